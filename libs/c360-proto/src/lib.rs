//! Generated protobuf and gRPC code for the c360 API, one module per
//! versioned package under `proto/c360/`.

#![allow(missing_debug_implementations, clippy::all)]

pub mod codec;

pub mod common {
    pub mod v1 {
        tonic::include_proto!("c360.common.v1");
    }
}

pub mod resolver {
    pub mod v1 {
        tonic::include_proto!("c360.resolver.v1");
    }
}

pub mod vault {
    pub mod v1 {
        tonic::include_proto!("c360.vault.v1");
    }
}

pub mod channels {
    pub mod v1 {
        tonic::include_proto!("c360.channels.v1");
    }
}

pub mod search {
    pub mod v1 {
        tonic::include_proto!("c360.search.v1");
    }
}

/// The encoded `FileDescriptorSet` of every c360 proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("c360_descriptor");
