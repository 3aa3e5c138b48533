//! The `provider` key wrapper: key providers named in the JSON file
//! `$OCICRYPT_KEYPROVIDER_CONFIG` (`{"key-providers":{"NAME":{"cmd":{"path":…,"args":[…]}}}}`)
//! wrap and unwrap the layer's private options. A command provider is run once per
//! operation with ocicrypt's key provider protocol on stdin (`{"op":"keywrap",…}` or
//! `{"op":"keyunwrap",…}`) and answers on stdout. Its wrapped keys go into
//! `org.opencontainers.image.enc.keys.provider.NAME`. gRPC providers are not supported.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

/// The environment variable naming the key provider configuration.
pub const CONFIG_VARIABLE: &str = "OCICRYPT_KEYPROVIDER_CONFIG";

/// The annotation prefix of provider-wrapped keys.
pub const ANNOTATION_PREFIX: &str = "org.opencontainers.image.enc.keys.provider.";

/// How to reach one key provider.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProviderAttrs {
    /// A program speaking the protocol on stdin/stdout.
    #[serde(default)]
    pub cmd: Option<ProviderCommand>,
    /// A gRPC address (not supported by skopos).
    #[serde(default)]
    pub grpc: String,
}

/// A key provider program and its arguments.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProviderCommand {
    /// The program to run (the config file's `path`), looked up in `$PATH` when it has no `/`.
    #[serde(default)]
    pub path: String,
    /// Its arguments (`args`); the request itself goes to the program's stdin as JSON.
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(rename = "key-providers", default)]
    key_providers: BTreeMap<String, ProviderAttrs>,
}

/// The key providers configured by `$OCICRYPT_KEYPROVIDER_CONFIG`; none when it is unset or
/// names a file that does not exist.
pub fn configured_providers() -> Result<BTreeMap<String, ProviderAttrs>> {
    let Some(path) = std::env::var_os(CONFIG_VARIABLE).filter(|p| !p.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => bail!("Error while parsing keyprovider config file: {e}"),
    };
    let config: ConfigFile = serde_json::from_slice(&data)
        .map_err(|e| anyhow!("Error while parsing keyprovider config file: {e}"))?;
    Ok(config.key_providers)
}

/// Parameters of `provider:NAME[:VALUE]` keys by provider name, as ocicrypt collects them
/// (`Enabled` when there is no value).
pub fn add_parameter(parameters: &mut BTreeMap<String, Vec<Vec<u8>>>, spec: &str) {
    let (name, value) = match spec.find(':') {
        Some(idx) if idx > 0 => (&spec[..idx], &spec.as_bytes()[idx + 1..]),
        _ => (spec, &b"Enabled"[..]),
    };
    parameters
        .entry(name.to_string())
        .or_default()
        .push(value.to_vec());
}

/// Go's `map[string][][]byte` in JSON.
fn parameters_json(parameters: &BTreeMap<String, Vec<Vec<u8>>>) -> Value {
    let map: serde_json::Map<String, Value> = parameters
        .iter()
        .map(|(name, values)| {
            let values: Vec<Value> = values.iter().map(|v| B64.encode(v).into()).collect();
            (name.clone(), Value::Array(values))
        })
        .collect();
    Value::Object(map)
}

/// Wrap `options` with provider `name` (`WrapKeys`): the annotation bytes it returns, or
/// `None` when it returns none.
pub fn wrap(
    name: &str,
    attrs: &ProviderAttrs,
    parameters: &BTreeMap<String, Vec<Vec<u8>>>,
    options: &[u8],
) -> Result<Option<Vec<u8>>> {
    let input = json!({
        "op": "keywrap",
        "keywrapparams": {
            "ec": {
                "Parameters": parameters_json(parameters),
                "DecryptConfig": {"Parameters": null},
            },
            "optsdata": B64.encode(options),
        },
        "keyunwrapparams": {"dc": null, "annotation": null},
    });
    let output = run(name, attrs, &input)
        .map_err(|e| anyhow!("error while retrieving keyprovider protocol command output: {e}"))?;
    let wrapped = result_bytes(&output, "keywrapresults", "annotation")?;
    Ok((!wrapped.is_empty()).then_some(wrapped))
}

/// Unwrap the annotation blob `wrapped` with provider `name` (`UnwrapKey`).
pub fn unwrap(
    name: &str,
    attrs: &ProviderAttrs,
    parameters: &BTreeMap<String, Vec<Vec<u8>>>,
    wrapped: &[u8],
) -> Result<Vec<u8>> {
    let input = json!({
        "op": "keyunwrap",
        "keywrapparams": {"ec": null, "optsdata": null},
        "keyunwrapparams": {
            "dc": {"Parameters": parameters_json(parameters)},
            "annotation": B64.encode(wrapped),
        },
    });
    let output = run(name, attrs, &input)?;
    result_bytes(&output, "keyunwrapresults", "optsdata")
}

fn result_bytes(output: &[u8], section: &str, field: &str) -> Result<Vec<u8>> {
    let parsed: Value = serde_json::from_slice(output)
        .map_err(|e| anyhow!("Error while unmarshalling binary executable command output: {e}"))?;
    match parsed.get(section).and_then(|s| s.get(field)) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => B64.decode(text).map_err(|e| {
            anyhow!("Error while unmarshalling binary executable command output: {e}")
        }),
        Some(_) => bail!(
            "Error while unmarshalling binary executable command output: {field} is not a byte string"
        ),
    }
}

/// Run the provider's command with `input` on stdin; its stdout.
fn run(name: &str, attrs: &ProviderAttrs, input: &Value) -> Result<Vec<u8>> {
    let Some(command) = &attrs.cmd else {
        if attrs.grpc.is_empty() {
            bail!(
                "Unsupported keyprovider invocation. Supported invocation methods are grpc and cmd"
            );
        }
        bail!("key provider {name}: gRPC key providers are not supported by skopos");
    };
    let mut child = Command::new(&command.path)
        .args(&command.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            anyhow!(
                "Error while running command: {}. stderr: : {e}",
                command.path
            )
        })?;
    let input = serde_json::to_vec(input)?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| anyhow!("Error while running command: {}", command.path))?;
    // Written from a thread: a provider that answers before reading all of its input must
    // not block on a full stdout pipe while skopos blocks on a full stdin pipe.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().map_err(|e| {
        anyhow!(
            "Error while running command: {}. stderr: : {e}",
            command.path
        )
    })?;
    // A provider may exit without reading its input; its exit status says what matters.
    let _ = writer.join();
    if !output.status.success() {
        bail!(
            "Error while running command: {}. stderr: {}: {}",
            command.path,
            String::from_utf8_lossy(&output.stderr),
            go_exit_text(&output.status)
        );
    }
    Ok(output.stdout)
}

/// Go's `*exec.ExitError` text.
fn go_exit_text(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal: {signal}"),
        (None, None) => "exit status unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_parameters_as_ocicrypt() {
        let mut parameters = BTreeMap::new();
        add_parameter(&mut parameters, "kms");
        add_parameter(&mut parameters, "kms:key=1");
        add_parameter(&mut parameters, "other:a:b");
        assert_eq!(
            parameters,
            BTreeMap::from([
                (
                    "kms".to_string(),
                    vec![b"Enabled".to_vec(), b"key=1".to_vec()]
                ),
                ("other".to_string(), vec![b"a:b".to_vec()]),
            ])
        );
    }
}
