//! The gRPC methods this binary knows, read from the protobuf descriptors
//! it serves (c360, health, reflection): which paths exist, and which take
//! a stream of requests.
//!
//! Metrics and spans name a call by its method only when the method is
//! known; any other path (answered UNIMPLEMENTED) is [`UNKNOWN`], so made-up
//! paths cannot grow the label sets.

use std::collections::HashMap;

use prost::Message;

/// The label of every path that is not a known method.
pub const UNKNOWN: &str = "unknown";

/// Known methods by path (`/c360.resolver.v1.ResolverService/Ingest`).
#[derive(Debug, Default)]
pub struct Methods {
    /// Path → whether the client streams requests.
    by_path: HashMap<String, bool>,
}

impl Methods {
    /// The methods of every service this binary can serve.
    pub fn served() -> anyhow::Result<Methods> {
        Methods::from_descriptor_sets(&[
            c360_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ])
    }

    pub fn from_descriptor_sets(sets: &[&[u8]]) -> anyhow::Result<Methods> {
        let mut by_path = HashMap::new();
        for bytes in sets {
            let set = prost_types::FileDescriptorSet::decode(*bytes)?;
            for file in &set.file {
                let package = file.package();
                for service in &file.service {
                    let full = match package {
                        "" => service.name().to_string(),
                        p => format!("{p}.{}", service.name()),
                    };
                    for method in &service.method {
                        by_path.insert(
                            format!("/{full}/{}", method.name()),
                            method.client_streaming(),
                        );
                    }
                }
            }
        }
        Ok(Methods { by_path })
    }

    /// The metric and span label of `path`: itself when known, else
    /// [`UNKNOWN`].
    pub fn label<'a>(&self, path: &'a str) -> &'a str {
        if self.by_path.contains_key(path) {
            path
        } else {
            UNKNOWN
        }
    }

    /// Whether the method at `path` takes a stream of requests.
    pub fn client_streaming(&self, path: &str) -> bool {
        self.by_path.get(path).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn knows_every_served_method_and_which_stream_requests() {
        let m = Methods::served().unwrap();
        let ingest = "/c360.resolver.v1.ResolverService/Ingest";
        assert_eq!(m.label(ingest), ingest);
        assert!(m.client_streaming(ingest));
        let watch = "/c360.resolver.v1.ResolverService/WatchEvents";
        assert!(!m.client_streaming(watch), "server streaming only");
        assert_eq!(
            m.label("/grpc.health.v1.Health/Check"),
            "/grpc.health.v1.Health/Check"
        );
        let reflect = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
        assert_eq!(m.label(reflect), reflect);
        assert_eq!(m.label("/c360.resolver.v1.ResolverService/Nope"), UNKNOWN);
        assert_eq!(m.label("/x/y"), UNKNOWN);
        assert!(!m.client_streaming("/x/y"));
    }
}
