//! policy.json (containers-policy.json(5)) as containers/image v5.23 reads it: every object
//! is parsed strictly (unknown, duplicate or missing keys are errors) because a typo in a
//! security policy must never be silently ignored. Error texts are containers/image's.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use base64::Engine as _;
use skopos_core::reference::{is_docker_domain, split_docker_name, DockerReference};

use skopos_core::strict_json::{exact_fields, for_each_member, Json};

/// A parsed trust policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Requirements for images no transport scope matches.
    pub default: Vec<Requirement>,
    /// Transport name → scope (`""` for the whole transport) → requirements.
    pub transports: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
}

/// One requirement an image must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    /// `insecureAcceptAnything`: any image passes, signed or not.
    InsecureAcceptAnything,
    /// `reject`: no image passes.
    Reject,
    /// `signedBy`: a simple signing signature by one of the given keys.
    SignedBy(SignedBy),
    /// `signedBaseLayer`: parsed so that a policy naming it loads, but, as in
    /// containers/image, not implemented: evaluating it rejects the image.
    SignedBaseLayer {
        /// `baseLayerIdentity`: the identity the base layer's signature would have to claim.
        base_layer_identity: ReferenceMatch,
    },
    /// `sigstoreSigned`: a sigstore signature by a key, a Fulcio certificate or a PKI.
    SigstoreSigned(SigstoreSigned),
}

/// A `signedBy` requirement (simple signing, GPG or X.509 keys).
#[derive(Debug, Clone, PartialEq)]
pub struct SignedBy {
    /// `GPGKeys`, `signedByGPGKeys`, `X509Certificates` or `signedByX509CAs`.
    pub key_type: String,
    /// The keys one of which must have made the signature (`keyPath`, `keyPaths` or
    /// `keyData`).
    pub keys: KeySource,
    /// `signedIdentity`: how the identity the signature claims must match the image's
    /// reference (`matchRepoDigestOrExact` when the policy does not say).
    pub signed_identity: ReferenceMatch,
}

/// A `sigstoreSigned` requirement (containers/image v5.3x's form, as skopeo 1.22 reads it).
/// Exactly one of `keys`, `fulcio` and `pki` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct SigstoreSigned {
    /// The trusted public keys (`keyPath`, `keyPaths`, `keyData`, `keyDatas`).
    pub keys: Option<KeySource>,
    /// Keyless signing: certificates issued by a Fulcio CA.
    pub fulcio: Option<Fulcio>,
    /// Certificates issued by a private PKI (skopeo 1.22).
    pub pki: Option<Pki>,
    /// `rekorPublicKey…`: Rekor keys whose SETs signatures must carry.
    pub rekor_keys: Option<KeySource>,
    /// `signedIdentity`: how the identity the signature claims must match the image's
    /// reference (`matchRepoDigestOrExact` when the policy does not say).
    pub signed_identity: ReferenceMatch,
}

/// The `fulcio` trust root of a `sigstoreSigned` requirement.
#[derive(Debug, Clone, PartialEq)]
pub struct Fulcio {
    /// The CA certificates: `caPath` ([`KeySource::Path`]) or `caData` ([`KeySource::Data`]).
    pub ca: KeySource,
    /// The OIDC issuer the certificate must record.
    pub oidc_issuer: String,
    /// The e-mail address the certificate must be issued to.
    pub subject_email: String,
}

/// The `pki` trust root of a `sigstoreSigned` requirement.
#[derive(Debug, Clone, PartialEq)]
pub struct Pki {
    /// The root certificates: `caRootsPath` or `caRootsData`.
    pub ca_roots: KeySource,
    /// Trusted intermediates: `caIntermediatesPath` or `caIntermediatesData`.
    pub ca_intermediates: Option<KeySource>,
    /// The e-mail address the certificate must name, or empty.
    pub subject_email: String,
    /// The host name the certificate must be valid for, or empty.
    pub subject_hostname: String,
}

/// Where a signature requirement's public keys come from.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// One file (`keyPath`, `caPath`, …), read when the policy is evaluated.
    Path(String),
    /// Several files (`keyPaths`), any of whose keys may have signed.
    Paths(Vec<String>),
    /// Key material inline (`keyData`, `caData`, …), already decoded from base64.
    Data(Vec<u8>),
    /// `keyDatas` (sigstoreSigned only).
    Datas(Vec<Vec<u8>>),
}

/// How a signature's claimed identity must relate to the image's reference.
#[derive(Debug, Clone, PartialEq)]
pub enum ReferenceMatch {
    /// `matchExact`: the signed identity is the image's reference, tag or digest included.
    MatchExact,
    /// `matchRepoDigestOrExact`: for an image named by digest, the same repository; for
    /// one named by tag, the same repository and tag. The default.
    MatchRepoDigestOrExact,
    /// `matchRepository`: the same repository, whatever tag or digest either names.
    MatchRepository,
    /// `exactReference`: the signed identity is this reference, whatever the image is
    /// called locally.
    ExactReference(String),
    /// `exactRepository`: the signed identity is in this repository.
    ExactRepository(String),
    /// `remapIdentity`: an image reference starting with `prefix` has it replaced by
    /// `signed_prefix`, and the result is matched as `matchRepoDigestOrExact` (for mirrors
    /// whose images are signed under the original name).
    RemapIdentity {
        /// The prefix of the image's own reference (a host, repository or namespace).
        prefix: String,
        /// What replaces `prefix` to give the identity the signature must claim.
        signed_prefix: String,
    },
}

/// The key types `signedBy` accepts.
const KEY_TYPES: [&str; 4] = [
    "GPGKeys",
    "signedByGPGKeys",
    "X509Certificates",
    "signedByX509CAs",
];

impl Policy {
    /// The policy `--insecure-policy` stands for: accept anything.
    pub fn insecure_accept_anything() -> Policy {
        Policy {
            default: vec![Requirement::InsecureAcceptAnything],
            transports: BTreeMap::new(),
        }
    }

    /// Parse policy.json contents (`signature.NewPolicyFromBytes`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Policy> {
        let document = Json::parse(bytes)?;
        let mut default = None;
        let mut transports = BTreeMap::new();
        for_each_member(&document, |key, value| {
            match key {
                "default" => default = Some(requirements(value)?),
                "transports" => transports = transport_scopes(value)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        let Some(default) = default else {
            bail!("Default policy is missing");
        };
        Ok(Policy {
            default,
            transports,
        })
    }
}

fn cannot_unmarshal(value: &Json, go_type: &str) -> anyhow::Error {
    anyhow!(
        "json: cannot unmarshal {} into Go value of type {go_type}",
        value.go_kind()
    )
}

/// A JSON string; `null` leaves Go's string empty.
fn string(value: &Json) -> Result<String> {
    match value {
        Json::String(s) => Ok(s.clone()),
        Json::Null => Ok(String::new()),
        other => Err(cannot_unmarshal(other, "string")),
    }
}

/// The `"transports"` member: transport name → scopes.
fn transport_scopes(value: &Json) -> Result<BTreeMap<String, BTreeMap<String, Vec<Requirement>>>> {
    let mut transports = BTreeMap::new();
    for_each_member(value, |transport, scopes_json| {
        let mut scopes = BTreeMap::new();
        for_each_member(scopes_json, |scope, requirements_json| {
            // containers/image treats a scope its transport refuses as an unknown key.
            if !scope.is_empty() && !scope_is_valid(transport, scope) {
                return Ok(false);
            }
            scopes.insert(scope.to_string(), requirements(requirements_json)?);
            Ok(true)
        })?;
        transports.insert(transport.to_string(), scopes);
        Ok(true)
    })?;
    Ok(transports)
}

/// The transport's `ValidatePolicyConfigurationScope` for a non-empty scope. Transports
/// containers/image does not know accept any scope.
fn scope_is_valid(transport: &str, scope: &str) -> bool {
    match transport {
        "dir" | "oci" | "oci-archive" | "sif" => {
            scope.starts_with('/') && scope != "/" && is_clean_path(scope)
        }
        "docker-archive" | "tarball" => false,
        // An image ID cannot be a namespace.
        "docker-daemon" => skopos_core::reference::go_digest::parse_go_digest(scope).is_err(),
        "atomic" => is_atomic_scope(scope),
        // `REPO:IMAGE-PREFIX`, with an absolute, clean repository path.
        "ostree" => scope
            .split_once(':')
            .is_some_and(|(repo, _)| repo == "/" || (repo.starts_with('/') && is_clean_path(repo))),
        _ => true,
    }
}

/// `HOSTNAME[/NAMESPACE[/STREAM[:TAG]]]`, the openshift transport's
/// `^[^/]*(/[^:/]*(/[^:/]*(:[^:/]*)?)?)?$`.
fn is_atomic_scope(scope: &str) -> bool {
    let parts: Vec<&str> = scope.split('/').collect();
    match parts.as_slice() {
        [_host] => true,
        [_host, namespace] => !namespace.contains(':'),
        [_host, namespace, stream_and_tag] => {
            !namespace.contains(':') && stream_and_tag.matches(':').count() <= 1
        }
        _ => false,
    }
}

/// Whether an absolute path is already in Go's `filepath.Clean` form.
fn is_clean_path(path: &str) -> bool {
    !path.ends_with('/')
        && path[1..]
            .split('/')
            .all(|component| !component.is_empty() && component != "." && component != "..")
}

/// A non-empty list of requirements (`PolicyRequirements.UnmarshalJSON`).
fn requirements(value: &Json) -> Result<Vec<Requirement>> {
    let items: &[Json] = match value {
        Json::Array(items) => items,
        Json::Null => &[],
        other => return Err(cannot_unmarshal(other, "[]json.RawMessage")),
    };
    if items.is_empty() {
        bail!("List of verification policy requirements must not be empty");
    }
    items.iter().map(requirement).collect()
}

/// The `type` member, read leniently first to pick the parser, as containers/image does.
fn type_field(value: &Json, go_struct: &str, go_field_type: &str) -> Result<String> {
    match value {
        Json::Object(members) => match members.iter().rev().find(|(key, _)| key == "type") {
            Some((_, Json::String(s))) => Ok(s.clone()),
            Some((_, Json::Null)) | None => Ok(String::new()),
            Some((_, other)) => bail!(
                "json: cannot unmarshal {} into Go struct field {go_struct}.type of type {go_field_type}",
                other.go_kind()
            ),
        },
        Json::Null => Ok(String::new()),
        other => Err(cannot_unmarshal(other, &format!("signature.{go_struct}"))),
    }
}

fn requirement(value: &Json) -> Result<Requirement> {
    let kind = type_field(value, "prCommon", "signature.prTypeName")?;
    match kind.as_str() {
        "insecureAcceptAnything" => {
            exact_fields(value, &["type"])?;
            Ok(Requirement::InsecureAcceptAnything)
        }
        "reject" => {
            exact_fields(value, &["type"])?;
            Ok(Requirement::Reject)
        }
        "signedBy" => signed_by(value).map(Requirement::SignedBy),
        "signedBaseLayer" => {
            let fields = exact_fields(value, &["type", "baseLayerIdentity"])?;
            Ok(Requirement::SignedBaseLayer {
                base_layer_identity: reference_match(fields[1])?,
            })
        }
        "sigstoreSigned" => sigstore_signed(value).map(Requirement::SigstoreSigned),
        other => bail!("Unknown policy requirement type \"{other}\""),
    }
}

fn key_paths(value: &Json) -> Result<Option<Vec<String>>> {
    match value {
        Json::Array(items) => items.iter().map(string).collect::<Result<_>>().map(Some),
        Json::Null => Ok(None),
        other => Err(cannot_unmarshal(other, "[]string")),
    }
}

/// Go decodes `[]byte` from standard base64.
fn key_data(value: &Json) -> Result<Option<Vec<u8>>> {
    match value {
        Json::String(text) => {
            let text: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            base64::engine::general_purpose::STANDARD
                .decode(&text)
                .map(Some)
                .map_err(|err| match err {
                    base64::DecodeError::InvalidByte(offset, _)
                    | base64::DecodeError::InvalidLastSymbol(offset, _) => {
                        anyhow!("illegal base64 data at input byte {offset}")
                    }
                    _ => anyhow!("illegal base64 data at input byte {}", text.len()),
                })
        }
        Json::Null => Ok(None),
        other => Err(cannot_unmarshal(other, "[]uint8")),
    }
}

fn signed_by(value: &Json) -> Result<SignedBy> {
    let mut key_type = String::new();
    let (mut path, mut paths, mut data) = (None, None, None);
    let mut identity = None;
    for_each_member(value, |key, member| {
        match key {
            "type" => {
                string(member)?;
            }
            "keyType" => {
                let text = string(member)?;
                if !KEY_TYPES.contains(&text.as_str()) {
                    bail!("Unrecognized keyType value \"{text}\"");
                }
                key_type = text;
            }
            "keyPath" => path = Some(string(member)?),
            "keyPaths" => paths = Some(key_paths(member)?),
            "keyData" => data = Some(key_data(member)?),
            "signedIdentity" => identity = Some(member),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let signed_identity = match identity {
        None => ReferenceMatch::MatchRepoDigestOrExact,
        Some(json) => reference_match(json)?,
    };
    let keys = match (path, paths, data) {
        (Some(path), None, None) => key_source(Some(path), None, None),
        (None, Some(paths), None) => key_source(None, paths, None),
        (None, None, Some(data)) => key_source(None, None, data),
        (None, None, None) => bail!(
            "Exactly one of keyPath, keyPaths and keyData must be specified, none of them present"
        ),
        _ => bail!(
            "Exactly one of keyPath, keyPaths and keyData must be specified, more than one present"
        ),
    };
    if !KEY_TYPES.contains(&key_type.as_str()) {
        bail!("invalid keyType \"{key_type}\"");
    }
    let Some(keys) = keys else {
        bail!("exactly one of keyPath, keyPaths and keyData must be specified");
    };
    Ok(SignedBy {
        key_type,
        keys,
        signed_identity,
    })
}

/// The one key source `newPRSignedBy` counts: an empty path, a `null` list or `null` data
/// does not count.
fn key_source(
    path: Option<String>,
    paths: Option<Vec<String>>,
    data: Option<Vec<u8>>,
) -> Option<KeySource> {
    match (path.filter(|p| !p.is_empty()), paths, data) {
        (Some(path), None, None) => Some(KeySource::Path(path)),
        (None, Some(paths), None) => Some(KeySource::Paths(paths)),
        (None, None, Some(data)) => Some(KeySource::Data(data)),
        _ => None,
    }
}

/// A list of base64 key data (`keyDatas`, `rekorPublicKeyDatas`).
fn key_datas(value: &Json) -> Result<Option<Vec<Vec<u8>>>> {
    match value {
        Json::Array(items) => items
            .iter()
            .map(|item| key_data(item).map(Option::unwrap_or_default))
            .collect::<Result<_>>()
            .map(Some),
        Json::Null => Ok(None),
        other => Err(cannot_unmarshal(other, "[][]uint8")),
    }
}

fn sigstore_signed(value: &Json) -> Result<SigstoreSigned> {
    let mut keys: Vec<Option<KeySource>> = Vec::new();
    let mut rekor: Vec<Option<KeySource>> = Vec::new();
    let (mut fulcio, mut pki) = (None, None);
    let mut identity = None;
    for_each_member(value, |key, member| {
        match key {
            "type" => {
                string(member)?;
            }
            // An empty path does not count as a key source, as in containers/image.
            "keyPath" => keys.push(
                Some(string(member)?)
                    .filter(|p| !p.is_empty())
                    .map(KeySource::Path),
            ),
            "keyPaths" => {
                let paths = key_paths(member)?;
                if paths.as_ref().is_some_and(Vec::is_empty) {
                    bail!("\"keyPaths\" contains no entries");
                }
                keys.push(paths.map(KeySource::Paths));
            }
            "keyData" => keys.push(key_data(member)?.map(KeySource::Data)),
            "keyDatas" => {
                let datas = key_datas(member)?;
                if datas.as_ref().is_some_and(Vec::is_empty) {
                    bail!("\"keyDatas\" contains no entries");
                }
                keys.push(datas.map(KeySource::Datas));
            }
            "fulcio" => fulcio = Some(fulcio_root(member)?),
            "pki" => pki = Some(pki_root(member)?),
            "rekorPublicKeyPath" => rekor.push(
                Some(string(member)?)
                    .filter(|p| !p.is_empty())
                    .map(KeySource::Path),
            ),
            "rekorPublicKeyPaths" => rekor.push(key_paths(member)?.map(KeySource::Paths)),
            "rekorPublicKeyData" => rekor.push(key_data(member)?.map(KeySource::Data)),
            "rekorPublicKeyDatas" => rekor.push(key_datas(member)?.map(KeySource::Datas)),
            "signedIdentity" => identity = Some(member),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let signed_identity = match identity {
        None => ReferenceMatch::MatchRepoDigestOrExact,
        Some(json) => reference_match(json)?,
    };
    let mut keys: Vec<KeySource> = keys.into_iter().flatten().collect();
    let rekor: Vec<KeySource> = rekor.into_iter().flatten().collect();
    if keys.len() + usize::from(fulcio.is_some()) + usize::from(pki.is_some()) != 1 {
        bail!("exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified");
    }
    if rekor.len() > 1 {
        bail!("at most one of rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas can be used simultaneously");
    }
    if fulcio.is_some() && rekor.is_empty() {
        bail!("At least one of rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas must be specified if fulcio is used");
    }
    if pki.is_some() && !rekor.is_empty() {
        bail!("rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas are not supported for pki");
    }
    Ok(SigstoreSigned {
        keys: keys.pop(),
        fulcio,
        pki,
        rekor_keys: rekor.into_iter().next(),
        signed_identity,
    })
}

/// A certificate source given as a path or as base64 data (`caPath`/`caData`, …); an
/// empty path and null data count as absent, as in containers/image.
fn path_or_data(path: String, data: Option<Vec<u8>>) -> Option<KeySource> {
    match (path.is_empty(), data) {
        (_, Some(data)) => Some(KeySource::Data(data)),
        (false, None) => Some(KeySource::Path(path)),
        (true, None) => None,
    }
}

/// The `fulcio` object (`newPRSigstoreSignedFulcio`'s checks, in its order).
fn fulcio_root(value: &Json) -> Result<Fulcio> {
    let (mut ca_path, mut ca_data) = (String::new(), None);
    let (mut oidc_issuer, mut subject_email) = (String::new(), String::new());
    for_each_member(value, |key, member| {
        match key {
            "caPath" => ca_path = string(member)?,
            "caData" => ca_data = key_data(member)?,
            "oidcIssuer" => oidc_issuer = string(member)?,
            "subjectEmail" => subject_email = string(member)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if !ca_path.is_empty() && ca_data.is_some() {
        bail!("caPath and caData cannot be used simultaneously");
    }
    let Some(ca) = path_or_data(ca_path, ca_data) else {
        bail!("At least one of caPath and caData must be specified");
    };
    if oidc_issuer.is_empty() {
        bail!("oidcIssuer not specified");
    }
    if subject_email.is_empty() {
        bail!("subjectEmail not specified");
    }
    Ok(Fulcio {
        ca,
        oidc_issuer,
        subject_email,
    })
}

/// The `pki` object (`newPRSigstoreSignedPKI`'s checks, in its order).
fn pki_root(value: &Json) -> Result<Pki> {
    let (mut roots_path, mut roots_data) = (String::new(), None);
    let (mut intermediates_path, mut intermediates_data) = (String::new(), None);
    let (mut subject_email, mut subject_hostname) = (String::new(), String::new());
    for_each_member(value, |key, member| {
        match key {
            "caRootsPath" => roots_path = string(member)?,
            "caRootsData" => roots_data = key_data(member)?,
            "caIntermediatesPath" => intermediates_path = string(member)?,
            "caIntermediatesData" => intermediates_data = key_data(member)?,
            "subjectEmail" => subject_email = string(member)?,
            "subjectHostname" => subject_hostname = string(member)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if !roots_path.is_empty() && roots_data.is_some() {
        bail!("caRootsPath and caRootsData cannot be used simultaneously");
    }
    let Some(ca_roots) = path_or_data(roots_path, roots_data) else {
        bail!("At least one of caRootsPath and caRootsData must be specified");
    };
    if !intermediates_path.is_empty() && intermediates_data.is_some() {
        bail!("caIntermediatesPath and caIntermediatesData cannot be used simultaneously");
    }
    if subject_email.is_empty() && subject_hostname.is_empty() {
        bail!("At least one of subjectEmail, subjectHostname must be specified");
    }
    Ok(Pki {
        ca_roots,
        ca_intermediates: path_or_data(intermediates_path, intermediates_data),
        subject_email,
        subject_hostname,
    })
}

fn reference_match(value: &Json) -> Result<ReferenceMatch> {
    let kind = type_field(value, "prmCommon", "signature.prmTypeName")?;
    Ok(match kind.as_str() {
        "matchExact" => {
            exact_fields(value, &["type"])?;
            ReferenceMatch::MatchExact
        }
        "matchRepoDigestOrExact" => {
            exact_fields(value, &["type"])?;
            ReferenceMatch::MatchRepoDigestOrExact
        }
        "matchRepository" => {
            exact_fields(value, &["type"])?;
            ReferenceMatch::MatchRepository
        }
        "exactReference" => {
            let fields = exact_fields(value, &["type", "dockerReference"])?;
            let text = string(fields[1])?;
            let reference = DockerReference::parse_normalized(&text)
                .map_err(|err| anyhow!("Invalid format of dockerReference {text}: {err:#}"))?;
            if reference.is_name_only() {
                bail!("dockerReference {text} contains neither a tag nor digest");
            }
            ReferenceMatch::ExactReference(text)
        }
        "exactRepository" => {
            let fields = exact_fields(value, &["type", "dockerRepository"])?;
            let text = string(fields[1])?;
            DockerReference::parse_normalized(&text)
                .map_err(|err| anyhow!("Invalid format of dockerRepository {text}: {err:#}"))?;
            ReferenceMatch::ExactRepository(text)
        }
        "remapIdentity" => {
            let fields = exact_fields(value, &["type", "prefix", "signedPrefix"])?;
            let prefix = string(fields[1])?;
            let signed_prefix = string(fields[2])?;
            validate_remap_prefix(&prefix)?;
            validate_remap_prefix(&signed_prefix)?;
            ReferenceMatch::RemapIdentity {
                prefix,
                signed_prefix,
            }
        }
        other => bail!("Unknown policy reference match type \"{other}\""),
    })
}

/// A `remapIdentity` prefix must be a `host[:port]` or a name that starts with one.
fn validate_remap_prefix(prefix: &str) -> Result<()> {
    // containers/image asks for a whole domain, or a name that matches the name grammar
    // and starts with `domain/`: that is a name whose parse takes a domain.
    if is_docker_domain(prefix)
        || split_docker_name(prefix).is_some_and(|(domain, _)| !domain.is_empty())
    {
        return Ok(());
    }
    bail!(
        "prefix {} is not valid",
        skopos_core::go::text::go_quote(prefix)
    )
}

/// `validate_remap_prefix` against the regexes it was written with before (containers/image
/// v5.23's domain and name patterns), over hand-picked and generated prefixes.
#[cfg(test)]
mod remap_prefix_equivalence {
    use regex::Regex;

    use super::validate_remap_prefix;

    const DOMAIN: &str = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?";
    const NAME_COMPONENT: &str = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*";

    /// Fragments that matter to the domain and name rules.
    const TOKENS: &[&str] = &[
        "a",
        "z",
        "0",
        "A",
        "Z",
        ".",
        "_",
        "__",
        "-",
        "--",
        "/",
        ":",
        "5000",
        "@",
        "localhost",
        "example.com",
        "[::1]",
        "é",
        "\u{212A}",
        " ",
    ];

    #[test]
    fn agrees_with_the_regexes_it_replaced() {
        let domain = Regex::new(&format!("^{DOMAIN}$")).unwrap();
        let domain_prefix = Regex::new(&format!("^{DOMAIN}/")).unwrap();
        let name = Regex::new(&format!(
            "^(?:{DOMAIN}/)?{NAME_COMPONENT}(?:/{NAME_COMPONENT})*$"
        ))
        .unwrap();
        let mut prefixes: Vec<String> = [
            "",
            "example.com",
            "example.com:5000",
            "example.com:5000/ns/repo",
            "example.com/UPPER",
            "EXAMPLE.COM/ns",
            "example.com/",
            "/ns",
            "ns",
            "ns/repo",
            "a_b/c",
            "a_b.com/c",
            "-a.com/b",
            "a.com:/b",
            "[::1]:5000/a",
            "example.com/a___b",
            "example.com/a--b",
            "example.com/a.-b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // A fixed-seed SplitMix64, so every run checks the same prefixes.
        let mut state: u64 = 0x5eed_2e3a_9000;
        let mut below = |n: usize| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) % n as u64) as usize
        };
        for _ in 0..20_000 {
            let count = below(8);
            prefixes.push((0..count).map(|_| TOKENS[below(TOKENS.len())]).collect());
        }
        let mut valid = 0;
        for prefix in &prefixes {
            let old_verdict = domain.is_match(prefix)
                || (name.is_match(prefix) && domain_prefix.is_match(prefix));
            let verdict = validate_remap_prefix(prefix);
            assert_eq!(verdict.is_ok(), old_verdict, "{prefix:?}");
            if let Err(err) = verdict {
                assert_eq!(
                    err.to_string(),
                    format!(
                        "prefix {} is not valid",
                        skopos_core::go::text::go_quote(prefix)
                    )
                );
            }
            valid += usize::from(old_verdict);
        }
        // Both verdicts must be common, or the comparison says little.
        assert!(
            valid > prefixes.len() / 20 && valid < prefixes.len() * 19 / 20,
            "{valid} of {} prefixes valid",
            prefixes.len()
        );
    }
}
