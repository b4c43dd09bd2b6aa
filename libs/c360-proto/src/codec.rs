//! The codec every generated c360 client and server uses: prost encoding,
//! with a message that cannot be decoded answered as the caller's fault.
//!
//! tonic's prost codec answers a message it cannot decode (a string field
//! that is not UTF-8, a truncated field, a wrong wire type) with INTERNAL,
//! which tells the caller the server broke. Here it is INVALID_ARGUMENT,
//! with a `BadRequest` violation naming the field path (`record.surname`)
//! and never its bytes. Selected in `build.rs` (`codec_path`), so it covers
//! every RPC of every service at once.

use std::marker::PhantomData;

use tonic::Status;
use tonic::codec::{BufferSettings, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstEncoder};

/// A prost codec whose decoding errors are INVALID_ARGUMENT.
#[derive(Debug, Clone)]
pub struct Codec<T, U> {
    _pd: PhantomData<(T, U)>,
}

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Codec { _pd: PhantomData }
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = CheckedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckedDecoder { _pd: PhantomData }
    }
}

/// Decodes `U`; a malformed message is INVALID_ARGUMENT naming its field.
#[derive(Debug, Clone)]
pub struct CheckedDecoder<U> {
    _pd: PhantomData<U>,
}

impl<U: prost::Message + Default> Decoder for CheckedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|e| malformed(&e))
    }
}

/// INVALID_ARGUMENT for a message prost could not decode.
pub fn malformed(error: &prost::DecodeError) -> Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let (field, description) = field_of(&error.to_string());
    let message = match field.as_str() {
        "" => format!("malformed message: {description}"),
        f => format!("invalid {f}: {description}"),
    };
    let field = if field.is_empty() {
        "message".to_string()
    } else {
        field
    };
    let details = ErrorDetails::with_bad_request_violation(field, description);
    Status::with_error_details(tonic::Code::InvalidArgument, message, details)
}

/// Splits prost's error text (`failed to decode Protobuf message:
/// Record.surname: IngestRequest.record: invalid string value: ...`,
/// innermost field first) into a field path (`record.surname`) and the
/// description.
fn field_of(text: &str) -> (String, String) {
    let rest = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(text);
    let mut fields = Vec::new();
    let mut rest = rest;
    while let Some((head, tail)) = rest.split_once(": ") {
        let Some((message, field)) = head.split_once('.') else {
            break;
        };
        let ident =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident(message) || !ident(field) {
            break;
        }
        fields.push(field);
        rest = tail;
    }
    fields.reverse();
    (fields.join("."), rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_path_runs_from_the_outermost_message() {
        let (field, description) = field_of(
            "failed to decode Protobuf message: Record.surname: IngestRequest.record: invalid string value: data is not UTF-8 encoded",
        );
        assert_eq!(field, "record.surname");
        assert_eq!(
            description,
            "invalid string value: data is not UTF-8 encoded"
        );
        let (field, description) = field_of("failed to decode Protobuf message: buffer underflow");
        assert_eq!(field, "");
        assert_eq!(description, "buffer underflow");
    }

    #[test]
    fn a_string_that_is_not_utf8_is_invalid_argument_naming_the_field() {
        // ResolveRequest.record (1) → Record.surname (5) = [0xff, 0xfe].
        let bytes = [0x0a, 0x04, 0x2a, 0x02, 0xff, 0xfe];
        let err = <crate::resolver::v1::ResolveRequest as prost::Message>::decode(&bytes[..])
            .expect_err("not UTF-8");
        let status = malformed(&err);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "invalid record.surname: invalid string value: data is not UTF-8 encoded"
        );
    }
}
