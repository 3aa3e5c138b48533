//! The JSON messages of the protocol: requests, replies, error codes, and how arguments
//! are read (JSON numbers are Go `float64`s to skopeo, so they are checked the same way).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// ECMAScript's `Number.MAX_SAFE_INTEGER`: larger numbers are refused, as skopeo does.
const MAX_JSON_INTEGER: f64 = ((1u64 << 53) - 1) as f64;

/// One request: `{"method": NAME, "args": [...]}`. A missing or null member reads as
/// Go's zero value (an empty method, no arguments).
#[derive(Debug, Default, Deserialize)]
pub struct Request {
    /// The method name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub method: String,
    /// The arguments, each parsed by the method.
    #[serde(default, deserialize_with = "null_as_default")]
    pub args: Vec<Value>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// How the client should treat a failure (`error_code`, new in protocol 0.2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Writing to a pipe the client owns failed with EPIPE (the client stopped reading).
    BrokenPipe,
    /// A failure worth another attempt (network errors, HTTP 429/5xx).
    Retryable,
    /// Anything else.
    Other,
}

impl ErrorCode {
    /// The code as the wire spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BrokenPipe => "EPIPE",
            ErrorCode::Retryable => "retryable",
            ErrorCode::Other => "other",
        }
    }

    /// The code for `err`, checked in skopeo's order: EPIPE, then retryable, then other.
    pub fn of(err: &anyhow::Error) -> ErrorCode {
        let broken_pipe = err.chain().any(|cause| {
            cause
                .downcast_ref::<crate::pipes::PipeWriteError>()
                .is_some_and(|write| write.is_broken_pipe())
        });
        if broken_pipe {
            ErrorCode::BrokenPipe
        } else if skopos_core::retry::is_retryable(err) {
            ErrorCode::Retryable
        } else {
            ErrorCode::Other
        }
    }
}

/// A reply, with all five members in skopeo's order.
#[derive(Debug, Serialize)]
pub struct WireReply<'a> {
    /// Whether the call succeeded.
    pub success: bool,
    /// The call's value (`null` when it has none or failed).
    pub value: &'a serde_json::value::RawValue,
    /// The pipe to pass to `FinishPipe`, 0 when there is none.
    pub pipeid: u32,
    /// `""` on success, else an [`ErrorCode`].
    pub error_code: &'static str,
    /// The error text, `""` on success.
    pub error: String,
}

/// What `GetRawBlob` writes to its error pipe when the copy fails.
#[derive(Debug, Serialize)]
pub struct PipeErrorReport {
    /// An [`ErrorCode`] as text.
    pub code: &'static str,
    /// The error text.
    pub message: String,
}

/// Go's `%T` of a value decoded from JSON into `any`.
pub fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// skopeo's `parseUint64`: a JSON number no larger than 2^53-1, truncated to an integer.
pub fn parse_uint64(value: &Value) -> anyhow::Result<u64> {
    let Some(number) = value.as_f64() else {
        anyhow::bail!("expecting numeric, not {}", go_type_name(value));
    };
    if number > MAX_JSON_INTEGER {
        anyhow::bail!("out of range integer for numeric {number:.6}");
    }
    // Truncation is Go's uint64(float64) conversion (saturating at 0 for negatives).
    Ok(number as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_checked_like_go_float64s() {
        assert_eq!(parse_uint64(&json!(7)).unwrap(), 7);
        assert_eq!(parse_uint64(&json!(1.5)).unwrap(), 1);
        assert_eq!(
            parse_uint64(&json!(1e20)).unwrap_err().to_string(),
            "out of range integer for numeric 100000000000000000000.000000"
        );
        assert_eq!(
            parse_uint64(&json!("x")).unwrap_err().to_string(),
            "expecting numeric, not string"
        );
        assert_eq!(
            parse_uint64(&json!(null)).unwrap_err().to_string(),
            "expecting numeric, not <nil>"
        );
    }

    #[test]
    fn requests_read_missing_members_as_go_zero_values() {
        let request: Request = serde_json::from_str(r#"{"args":null}"#).unwrap();
        assert_eq!(request.method, "");
        assert!(request.args.is_empty());
        let request: Request =
            serde_json::from_str(r#"{"method":"OpenImage","args":["oci:x"]}"#).unwrap();
        assert_eq!(request.method, "OpenImage");
        assert_eq!(request.args, vec![json!("oci:x")]);
    }

    #[test]
    fn replies_keep_skopeos_member_order() {
        let value = serde_json::value::RawValue::from_string("\"0.2.8\"".into()).unwrap();
        let reply = WireReply {
            success: true,
            value: &value,
            pipeid: 0,
            error_code: "",
            error: String::new(),
        };
        assert_eq!(
            String::from_utf8(skopos_core::go::json::to_vec(&reply).unwrap()).unwrap(),
            r#"{"success":true,"value":"0.2.8","pipeid":0,"error_code":"","error":""}"#
        );
    }
}
