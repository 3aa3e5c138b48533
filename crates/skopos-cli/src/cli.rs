//! The command line, flag for flag as skopeo's (cobra/pflag) one, with pflag's conventions:
//! every boolean also takes `--flag=false`; optional booleans (`--tls-verify`) stay unset
//! unless given; list flags repeat and split on commas; global flags also work after the
//! subcommand.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use skopos_core::platform::Platform;

use crate::flags::{parse_go_duration, parse_go_i32, parse_go_u32};
use skopos_core::go::text::{go_parse_bool, go_parse_int};

/// `skopos version X.Y.Z`: clap prints the program name, then this.
pub(crate) const VERSION_TEXT: &str = concat!("version ", env!("CARGO_PKG_VERSION"));

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "skopos",
    about = "Various operations with container images and container image registries",
    version = VERSION_TEXT,
    disable_version_flag = true,
    disable_help_flag = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Version for Skopeo
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,

    /// Require HTTPS and verify certificates when accessing the registry (deprecated: set
    /// it on the subcommand). Only before the subcommand, as in skopeo.
    #[arg(
        long = "tls-verify",
        hide = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        value_parser = go_parse_bool
    )]
    pub deprecated_tls_verify: Option<bool>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The image names the command opens when it starts: `copy`'s two, the one of `inspect`,
    /// `delete` and `layers`; none for the other commands.
    pub fn image_arguments(&self) -> &[String] {
        match &self.command {
            Some(Command::Copy(args)) => &args.images,
            Some(Command::Inspect(args)) => &args.images,
            Some(Command::Delete(args)) | Some(Command::Layers(args)) => &args.args,
            _ => &[],
        }
    }
}

/// Options of the whole program (skopeo's persistent root flags).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// `-h`/`--help` of any command: its help text, rendered by [`crate::help`] in skopeo's
    /// layout (clap's own help flag is off).
    #[arg(
        short = 'h',
        long,
        global = true,
        hide = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub help: bool,

    /// enable debug output
    #[arg(
        long,
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub debug: bool,

    /// run the tool without any policy check
    #[arg(
        long,
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub insecure_policy: bool,

    /// Path to a trust policy file
    #[arg(long, global = true, value_name = "string")]
    pub policy: Option<PathBuf>,

    /// use registry configuration files in DIR (e.g. for container signature storage)
    #[arg(long = "registries.d", global = true, value_name = "DIR")]
    pub registries_d: Option<PathBuf>,

    /// path to the registries.conf file
    #[arg(long, global = true, hide = true, value_name = "PATH")]
    pub registries_conf: Option<PathBuf>,

    /// use ARCH instead of the architecture of the machine for choosing images
    #[arg(long, global = true, value_name = "ARCH")]
    pub override_arch: Option<String>,

    /// use OS instead of the running OS for choosing images
    #[arg(long, global = true, value_name = "OS")]
    pub override_os: Option<String>,

    /// use VARIANT instead of the running architecture variant for choosing images
    #[arg(long, global = true, value_name = "VARIANT")]
    pub override_variant: Option<String>,

    /// timeout for the command execution
    #[arg(long, global = true, value_name = "duration", value_parser = parse_go_duration)]
    pub command_timeout: Option<Duration>,

    /// directory used to store temporary files
    #[arg(long, global = true, value_name = "string")]
    pub tmpdir: Option<PathBuf>,

    /// prefix to add to the user agent string
    #[arg(long, global = true, value_name = "string")]
    pub user_agent_prefix: Option<String>,
}

impl GlobalArgs {
    /// The platform to pick from an image list: the host's, changed by `--override-os`,
    /// `--override-arch` and `--override-variant`.
    pub fn wanted_platform(&self) -> Platform {
        Platform::wanted(
            self.override_os.as_deref(),
            self.override_arch.as_deref(),
            self.override_variant.as_deref(),
        )
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy an IMAGE-NAME from one location to another
    Copy(Box<CopyArgs>),
    /// Delete image IMAGE-NAME
    Delete(ImageCommandArgs),
    /// Generate a sigstore public/private key pair
    GenerateSigstoreKey(GenerateSigstoreKeyArgs),
    /// Inspect image IMAGE-NAME
    Inspect(InspectArgs),
    /// List tags in the transport/repository specified by the SOURCE-IMAGE
    ListTags(ListTagsArgs),
    /// Login to a container registry
    Login(LoginArgs),
    /// Logout of a container registry
    Logout(LogoutArgs),
    /// Compute a manifest digest of a file
    ManifestDigest(ManifestDigestArgs),
    /// Create a signature using local files
    StandaloneSign(StandaloneSignArgs),
    /// Verify a signature using local files
    StandaloneVerify(StandaloneVerifyArgs),
    /// Synchronize one or more images from one location to another
    Sync(Box<SyncArgs>),
    /// Get layers of IMAGE-NAME
    #[command(hide = true)]
    Layers(ImageCommandArgs),
    /// Interactive proxy for fetching container images (EXPERIMENTAL)
    #[command(hide = true)]
    ExperimentalImageProxy(ProxyArgs),
    /// Dump contents of a signature WITHOUT VERIFYING IT
    #[command(hide = true)]
    UntrustedSignatureDumpWithoutVerification(ArgsOnly),
    /// Generate the autocompletion script for the specified shell
    #[command(hide = true)]
    Completion(crate::completion::CompletionArgs),
    /// Write the manual pages (skopos.1, skopos-COMMAND.1) into DIRECTORY
    #[command(hide = true)]
    GenerateManPages(crate::manual::GenerateManPagesArgs),
    /// Help about any command
    Help(ArgsOnly),
}

/// Declares an image-flags struct for one flag prefix ("" for inspect and friends, `src-`
/// and `dest-` for copy and sync): skopeo's `dockerImageFlags` plus any extra fields.
macro_rules! image_flags {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, creds_alias = $alias:expr, { $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, Args)]
        pub struct $name {
            /// Use USERNAME[:PASSWORD] for accessing the registry
            #[arg(id = concat!($prefix, "creds"), long = concat!($prefix, "creds"), value_name = "USERNAME[:PASSWORD]", aliases = $alias)]
            pub creds: Option<String>,
            /// Username for accessing the registry
            #[arg(id = concat!($prefix, "username"), long = concat!($prefix, "username"), value_name = "string")]
            pub username: Option<String>,
            /// Password for accessing the registry
            #[arg(id = concat!($prefix, "password"), long = concat!($prefix, "password"), value_name = "string")]
            pub password: Option<String>,
            /// Provide a Bearer token for accessing the registry
            #[arg(id = concat!($prefix, "registry-token"), long = concat!($prefix, "registry-token"), value_name = "string")]
            pub registry_token: Option<String>,
            /// use certificates at PATH (*.crt, *.cert, *.key) to connect to the registry or daemon
            #[arg(id = concat!($prefix, "cert-dir"), long = concat!($prefix, "cert-dir"), value_name = "PATH")]
            pub cert_dir: Option<PathBuf>,
            /// require HTTPS and verify certificates when talking to the container registry or daemon
            #[arg(
                id = concat!($prefix, "tls-verify"), long = concat!($prefix, "tls-verify"),
                num_args = 0..=1,
                require_equals = true,
                default_missing_value = "true",
        value_name = "BOOL",
                value_parser = go_parse_bool
            )]
            pub tls_verify: Option<bool>,
            /// Access the registry anonymously
            #[arg(
                id = concat!($prefix, "no-creds"), long = concat!($prefix, "no-creds"),
                num_args = 0..=1,
                require_equals = true,
                default_missing_value = "true",
        value_name = "BOOL",
                default_value = "false",
        hide_default_value = true,
                action = ArgAction::Set,
                value_parser = go_parse_bool
            )]
            pub no_creds: bool,
            $($extra)*
        }

        impl $name {
            /// The registry credentials these flags give, after skopeo's consistency checks
            /// (`--creds` vs `--username`/`--password` vs `--no-creds`): `None` when none
            /// were given, empty credentials for `--no-creds`.
            pub fn docker_auth(&self) -> anyhow::Result<Option<DockerAuth>> {
                docker_auth(
                    self.creds.as_deref(),
                    self.username.as_deref(),
                    self.password.as_deref(),
                    self.no_creds,
                )
            }
        }

        impl RegistryFlags for $name {
            /// Put the registry settings of these flags (credentials, certificates, TLS
            /// verification) into `ctx`, after skopeo's consistency checks.
            fn apply_registry_settings(
                &self,
                ctx: &mut skopos_core::SystemContext,
            ) -> anyhow::Result<()> {
                use skopos_core::{Credentials, Secret};
                // containers/image sends a given bearer token in preference to anything else.
                ctx.docker_credentials = match (self.docker_auth()?, &self.registry_token) {
                    (_, Some(token)) => Some(Credentials::BearerToken(Secret::new(token.clone()))),
                    (Some(auth), None) if auth.username.is_empty() => Some(Credentials::Anonymous),
                    (Some(auth), None) => Some(Credentials::basic(auth.username, auth.password)),
                    (None, None) => None,
                };
                ctx.docker_cert_dir = self.cert_dir.clone();
                ctx.docker_tls_verify = self.tls_verify;
                Ok(())
            }

        }
    };
}

/// Flags that say how to reach a registry; every image-flags struct has them.
pub trait RegistryFlags {
    /// Put the registry settings of these flags (credentials, certificates, TLS
    /// verification) into `ctx`, after skopeo's consistency checks.
    fn apply_registry_settings(&self, ctx: &mut skopos_core::SystemContext) -> anyhow::Result<()>;
}

/// A registry user name and password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerAuth {
    pub username: String,
    pub password: String,
}

/// skopeo's `imageOptions.newSystemContext` credential checks and `--creds` parsing.
fn docker_auth(
    creds: Option<&str>,
    username: Option<&str>,
    password: Option<&str>,
    no_creds: bool,
) -> anyhow::Result<Option<DockerAuth>> {
    if creds.is_some() && no_creds {
        anyhow::bail!("creds and no-creds cannot be specified at the same time");
    }
    if username.is_some() && no_creds {
        anyhow::bail!("username and no-creds cannot be specified at the same time");
    }
    if creds.is_some() && username.is_some() {
        anyhow::bail!("creds and username cannot be specified at the same time");
    }
    match (username, password) {
        (Some(_), None) => anyhow::bail!("password must be specified when username is specified"),
        (None, Some(_)) => anyhow::bail!("username must be specified when password is specified"),
        _ => {}
    }
    if no_creds {
        return Ok(Some(DockerAuth::default()));
    }
    if let Some(creds) = creds {
        if creds.is_empty() {
            anyhow::bail!("credentials can't be empty");
        }
        let (user, pass) = creds.split_once(':').unwrap_or((creds, ""));
        if user.is_empty() {
            anyhow::bail!("username can't be empty");
        }
        return Ok(Some(DockerAuth {
            username: user.to_string(),
            password: pass.to_string(),
        }));
    }
    Ok(username.zip(password).map(|(user, pass)| DockerAuth {
        username: user.to_string(),
        password: pass.to_string(),
    }))
}

image_flags!(
    /// Image flags of commands that name one image (inspect, delete, layers, proxy).
    ImageArgs, "", creds_alias = Vec::<&str>::new(), {
        /// path of the registry credentials file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json
        #[arg(long, env = "REGISTRY_AUTH_FILE", hide_env = true, value_name = "string")]
        pub authfile: Option<PathBuf>,
        /// DIRECTORY to use to share blobs across OCI repositories
        #[arg(long, value_name = "DIRECTORY")]
        pub shared_blob_dir: Option<PathBuf>,
        /// use docker daemon host at HOST (docker-daemon: only)
        #[arg(long, value_name = "HOST")]
        pub daemon_host: Option<String>,
    }
);

image_flags!(
    /// The source side's image flags of `copy` (`--src-…`).
    SrcImageArgs, "src-", creds_alias = ["screds"], {
        /// path of the registry credentials file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json
        #[arg(id = "src-authfile", long = "src-authfile", value_name = "string")]
        pub authfile: Option<PathBuf>,
        /// DIRECTORY to use to share blobs across OCI repositories
        #[arg(id = "src-shared-blob-dir", long = "src-shared-blob-dir", value_name = "DIRECTORY")]
        pub shared_blob_dir: Option<PathBuf>,
        /// use docker daemon host at HOST (docker-daemon: only)
        #[arg(id = "src-daemon-host", long = "src-daemon-host", value_name = "HOST")]
        pub daemon_host: Option<String>,
    }
);

image_flags!(
    /// The destination side's image flags of `copy` (`--dest-…`).
    DestImageArgs, "dest-", creds_alias = ["dcreds"], {
        /// path of the registry credentials file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json
        #[arg(id = "dest-authfile", long = "dest-authfile", value_name = "string")]
        pub authfile: Option<PathBuf>,
        /// DIRECTORY to use to share blobs across OCI repositories
        #[arg(id = "dest-shared-blob-dir", long = "dest-shared-blob-dir", value_name = "DIRECTORY")]
        pub shared_blob_dir: Option<PathBuf>,
        /// use docker daemon host at HOST (docker-daemon: only)
        #[arg(id = "dest-daemon-host", long = "dest-daemon-host", value_name = "HOST")]
        pub daemon_host: Option<String>,
    }
);

image_flags!(
    /// The source side of `sync` (registry flags only).
    SyncSrcArgs, "src-", creds_alias = ["screds"], {
        /// path of the registry credentials file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json
        #[arg(id = "src-authfile", long = "src-authfile", value_name = "string")]
        pub authfile: Option<PathBuf>,
    }
);

image_flags!(
    /// The destination side of `sync` (registry flags only).
    SyncDestArgs, "dest-", creds_alias = ["dcreds"], {
        /// path of the registry credentials file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json
        #[arg(id = "dest-authfile", long = "dest-authfile", value_name = "string")]
        pub authfile: Option<PathBuf>,
    }
);

image_flags!(
    /// Registry flags of `list-tags`.
    DockerImageArgs, "", creds_alias = Vec::<&str>::new(), {
        /// path of the registry credentials file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json
        #[arg(long, env = "REGISTRY_AUTH_FILE", hide_env = true, value_name = "string")]
        pub authfile: Option<PathBuf>,
    }
);

/// How often, and how long apart, to retry an operation that failed on the network.
#[derive(Debug, Clone, Default, Args)]
pub struct RetryArgs {
    /// the number of times to possibly retry
    #[arg(
        long,
        default_value = "0",
        hide_default_value = true,
        value_name = "int",
        value_parser = go_parse_int,
        allow_hyphen_values = true
    )]
    pub retry_times: i64,
    /// Fixed delay between retries. If not set, retry uses an exponential backoff delay.
    #[arg(long, value_name = "duration", value_parser = parse_go_duration, verbatim_doc_comment)]
    pub retry_delay: Option<Duration>,
}

/// skopos's own flags for copying what is attached to an image (OCI referrers and cosign
/// tags), shared by `copy` and `sync`. skopeo has no such flags; they carry a `skopos-`
/// prefix so that no flag skopeo adds later (regctl's and oras's `--referrers` are the
/// obvious candidates) can mean something else under the same name, and a skopeo command
/// line never reaches them by accident.
#[derive(Debug, Clone, Default, Args)]
pub struct ReferrersArgs {
    /// `--skopos-referrers`: also copy the image's OCI referrers (and theirs) and its cosign
    /// `sha256-<hex>.sig/.att/.sbom` tags (skopos only).
    #[arg(
        long = "skopos-referrers",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub enabled: bool,

    /// `--skopos-referrers-filter TYPE` (repeatable): with `--skopos-referrers`, only the
    /// image's referrers of these artifact types (skopos only).
    #[arg(long = "skopos-referrers-filter", value_name = "ARTIFACT-TYPE", action = ArgAction::Append)]
    pub artifact_types: Vec<String>,
}

/// Signing and signature flags shared by `copy` and `sync`.
#[derive(Debug, Clone, Default, Args)]
pub struct SharedCopyArgs {
    /// Do not copy signatures from source
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub remove_signatures: bool,
    /// Sign the image using a GPG key with the specified FINGERPRINT
    #[arg(long, value_name = "FINGERPRINT")]
    pub sign_by: Option<String>,
    /// Sign the image using a Sequoia-PGP key with the specified FINGERPRINT
    #[arg(long, value_name = "FINGERPRINT")]
    pub sign_by_sq_fingerprint: Option<String>,
    /// Sign the image using a sigstore parameter file at PATH
    #[arg(long, value_name = "PATH")]
    pub sign_by_sigstore: Option<PathBuf>,
    /// Sign the image using a sigstore private key at PATH
    #[arg(long, value_name = "PATH")]
    pub sign_by_sigstore_private_key: Option<PathBuf>,
    /// Read a passphrase for signing an image from PATH
    #[arg(long, value_name = "PATH")]
    pub sign_passphrase_file: Option<PathBuf>,
    /// MANIFEST TYPE (oci, v2s1, or v2s2) to use in the destination (default is manifest
    /// type of source, with fallbacks)
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Preserve digests of images and lists
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub preserve_digests: bool,
}

/// `skopos copy SOURCE-IMAGE DESTINATION-IMAGE` and all its flags.
#[derive(Debug, Clone, Default, Args)]
pub struct CopyArgs {
    /// SOURCE-IMAGE and DESTINATION-IMAGE; the count is checked before `copy::run` is called,
    /// so [`CopyArgs::source`] and [`CopyArgs::destination`] are always there.
    #[arg(value_name = "IMAGE-NAME")]
    pub images: Vec<String>,

    // Shared by both sides (default `$REGISTRY_AUTH_FILE`); each side's `--src-authfile` /
    // `--dest-authfile` overrides it.
    /// path of the registry credentials file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json
    #[arg(
        long,
        env = "REGISTRY_AUTH_FILE",
        hide_env = true,
        value_name = "string"
    )]
    pub authfile: Option<PathBuf>,

    /// Deprecated hidden `--tls-verify`, for both sides; each side's own flag wins.
    #[arg(
        long = "tls-verify",
        hide = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        value_parser = go_parse_bool
    )]
    pub tls_verify: Option<bool>,

    /// The `--src-…` image flags.
    #[command(flatten)]
    pub src: SrcImageArgs,

    /// The `--dest-…` image flags.
    #[command(flatten)]
    pub dest: DestImageArgs,

    /// Compress tarball image layers when saving to directory using the 'dir' transport. (default is same compression type as source)
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub dest_compress: bool,

    /// Decompress tarball image layers when saving to directory using the 'dir' transport. (default is same compression type as source)
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub dest_decompress: bool,

    /// Allow uncompressed image layers when saving to an OCI image using the 'oci' transport. (default is to compress things that aren't compressed)
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub dest_oci_accept_uncompressed_layers: bool,

    // gzip, zstd, zstd:chunked (bzip2 and xz parse too); validated by the copy command.
    /// FORMAT to use for the compression
    #[arg(long, value_name = "FORMAT")]
    pub dest_compress_format: Option<String>,

    /// LEVEL to use for the compression
    #[arg(long, value_name = "LEVEL", value_parser = parse_go_i32, allow_hyphen_values = true)]
    pub dest_compress_level: Option<i32>,

    /// Precompute digests to prevent uploading layers already on the registry using the 'docker' transport.
    #[arg(
        long,
        verbatim_doc_comment,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub dest_precompute_digests: bool,

    // Acts in the copy engine: a blob the destination already has in another compression is
    // not reused (and the flag requires --dest-compress-format).
    /// Force exclusive use of the compression algorithm set in --dest-compress-format
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub dest_force_compress_format: bool,

    /// `--retry-times`, `--retry-delay`.
    #[command(flatten)]
    pub retry: RetryArgs,

    /// Signature removal, signing, `-f/--format`, `--preserve-digests`.
    #[command(flatten)]
    pub shared: SharedCopyArgs,

    /// `--skopos-referrers`, `--skopos-referrers-filter`.
    #[command(flatten)]
    pub referrers: ReferrersArgs,

    /// additional tags (supports docker-archive)
    #[arg(long, value_name = "strings", action = ArgAction::Append, value_delimiter = ',')]
    pub additional_tag: Vec<String>,

    /// Copy all images if SOURCE-IMAGE is a list
    #[arg(
        short = 'a',
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub all: bool,

    // system|all|index-only|os/arch[,…] (unset means `system`); validated by copy.
    /// How to handle multi-architecture images (system, all, or index-only)
    #[arg(long, value_name = "string")]
    pub multi_arch: Option<String>,

    /// Identity of signed image, must be a fully specified docker reference. Defaults to the target docker reference.
    #[arg(long, value_name = "string", verbatim_doc_comment)]
    pub sign_identity: Option<String>,

    /// Write the digest of the pushed image to the specified file
    #[arg(long, value_name = "string")]
    pub digestfile: Option<PathBuf>,

    /// Suppress output information when copying images
    #[arg(
        short = 'q',
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub quiet: bool,

    /// *Experimental* key with the encryption protocol to use needed to encrypt the image (e.g. jwe:/path/to/key.pem)
    #[arg(long, value_name = "strings", action = ArgAction::Append, value_delimiter = ',')]
    pub encryption_key: Vec<String>,

    /// *Experimental* the 0-indexed layer indices, with support for negative indexing (e.g. 0 is the first layer, -1 is the last layer)
    #[arg(
        long,
        value_name = "ints",
        action = ArgAction::Append,
        value_delimiter = ',',
        value_parser = go_parse_int,
        allow_hyphen_values = true
    )]
    pub encrypt_layer: Vec<i64>,

    /// *Experimental* key needed to decrypt the image
    #[arg(long, value_name = "strings", action = ArgAction::Append, value_delimiter = ',')]
    pub decryption_key: Vec<String>,

    // Unset or 0: the default, 6.
    /// Maximum number of image layers to be copied (pulled/pushed) simultaneously. Not setting this field will fall back to containers/image defaults.
    #[arg(long, value_name = "uint", value_parser = parse_go_u32, verbatim_doc_comment)]
    pub image_parallel_copies: Option<u32>,

    /// Also write progress as newline-delimited JSON events, and a report after each
    /// image, to file descriptor FD (e.g. 3 with `3>progress.json`, or 2 for stderr)
    // Not a skopeo flag: skopeo 1.22.2 has nothing machine-readable for progress, and the
    // progress options its maintainers consider (skopeo PR #2870's `--progress-interval`)
    // belong to containers/image's human-readable output. No skopeo flag takes a
    // descriptor number with a `-fd` suffix (the proxy's is `--sockfd`), so this name
    // does not collide with one skopeo could add for its own output.
    #[arg(long, value_name = "FD")]
    pub progress_json_fd: Option<u32>,
}

impl CopyArgs {
    /// SOURCE-IMAGE (empty only if called before the argument count check).
    pub fn source(&self) -> &str {
        self.images.first().map_or("", String::as_str)
    }

    /// DESTINATION-IMAGE (empty only if called before the argument count check).
    pub fn destination(&self) -> &str {
        self.images.get(1).map_or("", String::as_str)
    }
}

/// `skopos inspect IMAGE-NAME`.
#[derive(Debug, Clone, Default, Args)]
pub struct InspectArgs {
    /// IMAGE-NAME
    #[arg(value_name = "IMAGE-NAME")]
    pub images: Vec<String>,
    #[command(flatten)]
    pub image: ImageArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
    /// output raw manifest or configuration
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub raw: bool,
    /// output configuration
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub config: bool,
    /// Format the output to a Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Do not list the available tags from the repository in the output
    #[arg(
        short = 'n',
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub no_tags: bool,
    // Newer than skopeo 1.22.2 (its main branch has it), so kept out of the help text.
    /// Algorithm to use for computing manifest digest (sha256, sha512)
    #[arg(long, value_name = "string", hide = true)]
    pub manifest_digest: Option<String>,
    /// `--skopos-referrers` (skopos only, prefixed like copy's so that no future skopeo flag
    /// collides): list the image's OCI referrers and cosign tags instead.
    #[arg(
        long = "skopos-referrers",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub skopos_referrers: bool,
}

/// Commands taking one image with the unprefixed image flags (`delete`, `layers`).
#[derive(Debug, Clone, Default, Args)]
pub struct ImageCommandArgs {
    /// IMAGE-NAME (and, for layers, layer digests)
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub image: ImageArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
}

/// `skopos list-tags SOURCE-IMAGE`.
#[derive(Debug, Clone, Default, Args)]
pub struct ListTagsArgs {
    /// SOURCE-IMAGE
    #[arg(value_name = "SOURCE-IMAGE")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub image: DockerImageArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
}

/// `skopos login REGISTRY`.
#[derive(Debug, Clone, Default, Args)]
pub struct LoginArgs {
    /// REGISTRY
    #[arg(value_name = "REGISTRY")]
    pub args: Vec<String>,
    /// path of the authentication file. Use REGISTRY_AUTH_FILE environment variable to override
    #[arg(long, value_name = "string")]
    pub authfile: Option<PathBuf>,
    /// path of a Docker-compatible config file to update instead
    #[arg(long, value_name = "string")]
    pub compat_auth_file: Option<PathBuf>,
    /// use certificates at the specified path to access the registry
    #[arg(long, value_name = "string")]
    pub cert_dir: Option<PathBuf>,
    /// Return the current login user for the registry
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub get_login: bool,
    /// Password for registry
    #[arg(short = 'p', long, value_name = "string")]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub password_stdin: bool,
    /// require HTTPS and verify certificates when accessing the registry
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        value_parser = go_parse_bool
    )]
    pub tls_verify: Option<bool>,
    /// Username for registry
    #[arg(short = 'u', long, value_name = "string")]
    pub username: Option<String>,
    /// Write more detailed information to stdout
    #[arg(
        short = 'v',
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub verbose: bool,
}

/// `skopos logout REGISTRY`.
#[derive(Debug, Clone, Default, Args)]
pub struct LogoutArgs {
    /// REGISTRY
    #[arg(value_name = "REGISTRY")]
    pub args: Vec<String>,
    /// Remove the cached credentials for all registries in the auth file
    #[arg(
        short = 'a',
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub all: bool,
    /// path of the authentication file. Use REGISTRY_AUTH_FILE environment variable to override
    #[arg(long, value_name = "string")]
    pub authfile: Option<PathBuf>,
    /// path of a Docker-compatible config file to update instead
    #[arg(long, value_name = "string")]
    pub compat_auth_file: Option<PathBuf>,
    /// require HTTPS and verify certificates when accessing the registry
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        value_parser = go_parse_bool
    )]
    pub tls_verify: Option<bool>,
}

/// `skopos manifest-digest MANIFEST`.
#[derive(Debug, Clone, Default, Args)]
pub struct ManifestDigestArgs {
    /// MANIFEST file
    #[arg(value_name = "MANIFEST")]
    pub args: Vec<String>,
}

/// `skopos standalone-sign MANIFEST DOCKER-REFERENCE KEY-FINGERPRINT --output SIGNATURE`.
#[derive(Debug, Clone, Default, Args)]
pub struct StandaloneSignArgs {
    /// MANIFEST DOCKER-REFERENCE KEY-FINGERPRINT
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    /// output the signature to SIGNATURE
    #[arg(short = 'o', long, value_name = "SIGNATURE")]
    pub output: Option<PathBuf>,
    /// file that contains a passphrase for the --sign-by key
    #[arg(long, value_name = "string")]
    pub passphrase_file: Option<PathBuf>,
}

/// `skopos standalone-verify MANIFEST DOCKER-REFERENCE KEY-FINGERPRINTS SIGNATURE`.
#[derive(Debug, Clone, Default, Args)]
pub struct StandaloneVerifyArgs {
    /// MANIFEST DOCKER-REFERENCE KEY-FINGERPRINTS SIGNATURE
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    /// File containing public keys. If not specified, will use local GPG keys.
    #[arg(long, value_name = "string", verbatim_doc_comment)]
    pub public_key_file: Option<PathBuf>,
}

/// `skopos generate-sigstore-key --output-prefix PREFIX`.
#[derive(Debug, Clone, Default, Args)]
pub struct GenerateSigstoreKeyArgs {
    /// unexpected positional arguments (refused)
    #[arg(value_name = "ARGS", hide = true)]
    pub args: Vec<String>,
    /// Write the keys to PREFIX.pub and `PREFIX`.private
    #[arg(long, value_name = "PREFIX")]
    pub output_prefix: Option<String>,
    /// Read a passphrase for the private key from PATH
    #[arg(long, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
}

/// `skopos sync --src T --dest T SOURCE DESTINATION`.
#[derive(Debug, Clone, Default, Args)]
pub struct SyncArgs {
    /// SOURCE DESTINATION
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    /// path of the registry credentials file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json
    #[arg(
        long,
        env = "REGISTRY_AUTH_FILE",
        hide_env = true,
        value_name = "string"
    )]
    pub authfile: Option<PathBuf>,
    /// Deprecated hidden `--tls-verify`, for both sides.
    #[arg(
        long = "tls-verify",
        hide = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        value_parser = go_parse_bool
    )]
    pub tls_verify: Option<bool>,
    #[command(flatten)]
    pub src_image: SyncSrcArgs,
    #[command(flatten)]
    pub dest_image: SyncDestArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
    #[command(flatten)]
    pub shared: SharedCopyArgs,
    /// `--skopos-referrers`, `--skopos-referrers-filter`.
    #[command(flatten)]
    pub referrers: ReferrersArgs,
    /// SOURCE transport type
    #[arg(short = 's', long = "src", value_name = "string")]
    pub source_transport: Option<String>,
    /// DESTINATION transport type
    #[arg(short = 'd', long = "dest", value_name = "string")]
    pub destination_transport: Option<String>,
    /// Images at DESTINATION are prefix using the full source image path as scope
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub scoped: bool,
    /// String to append to DESTINATION tags
    #[arg(long, value_name = "string")]
    pub append_suffix: Option<String>,
    /// Write the digests and Image References of the resulting images to the specified file, separated by newlines
    #[arg(long, value_name = "string")]
    pub digestfile: Option<PathBuf>,
    /// Also write progress as newline-delimited JSON events, and a report after each
    /// image, to file descriptor FD (e.g. 3 with `3>progress.json`, or 2 for stderr)
    // Not a skopeo flag: skopeo 1.22.2 has nothing machine-readable for progress, and the
    // progress options its maintainers consider (skopeo PR #2870's `--progress-interval`)
    // belong to containers/image's human-readable output. No skopeo flag takes a
    // descriptor number with a `-fd` suffix (the proxy's is `--sockfd`), so this name
    // does not collide with one skopeo could add for its own output.
    #[arg(long, value_name = "FD")]
    pub progress_json_fd: Option<u32>,
    /// Copy all images if SOURCE-IMAGE is a list
    #[arg(
        short = 'a',
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub all: bool,
    /// Run without actually copying data
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub dry_run: bool,
    /// Do not abort the sync if any image copy fails
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub keep_going: bool,
}

/// `skopos experimental-image-proxy`.
#[derive(Debug, Clone, Default, Args)]
pub struct ProxyArgs {
    /// unexpected positional arguments (refused)
    #[arg(value_name = "ARGS", hide = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub image: ImageArgs,
    /// Serve on opened socket pair (default 0/stdin)
    #[arg(long, default_value = "0", hide_default_value = true, value_name = "int", value_parser = go_parse_int)]
    pub sockfd: i64,
}

/// Commands that take only positional arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct ArgsOnly {
    /// The arguments
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Cli {
        let mut argv = vec!["skopos"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap()
    }

    fn copy_args(args: &[&str]) -> CopyArgs {
        let mut argv = vec!["copy"];
        argv.extend_from_slice(args);
        match parse(&argv).command {
            Some(Command::Copy(copy)) => *copy,
            other => panic!("not a copy: {other:?}"),
        }
    }

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn optional_bools_follow_pflag() {
        let copy = copy_args(&["--src-tls-verify=false", "--dest-tls-verify", "a", "b"]);
        assert_eq!(copy.src.tls_verify, Some(false));
        assert_eq!(copy.dest.tls_verify, Some(true));
        assert_eq!(copy.images, ["a", "b"]);
        let copy = copy_args(&["a", "b"]);
        assert_eq!(copy.src.tls_verify, None);
        // Without `=`, the next word is an argument, not the flag's value.
        let copy = copy_args(&["--dest-tls-verify", "false", "b"]);
        assert_eq!(copy.dest.tls_verify, Some(true));
        assert_eq!(copy.images, ["false", "b"]);
        assert!(
            Cli::try_parse_from(["skopos", "copy", "--src-tls-verify=maybe", "a", "b"]).is_err()
        );
    }

    #[test]
    fn plain_bools_take_an_optional_value() {
        let copy = copy_args(&["-q", "--all=false", "--remove-signatures=1", "a", "b"]);
        assert!(copy.quiet);
        assert!(!copy.all);
        assert!(copy.shared.remove_signatures);
        let copy = copy_args(&["-qa", "a", "b"]);
        assert!(copy.quiet && copy.all);
    }

    #[test]
    fn copy_value_flags_and_lists() {
        let copy = copy_args(&[
            "--dest-compress-format",
            "zstd",
            "--dest-compress-level=19",
            "-f",
            "oci",
            "--additional-tag=a:1,b:2",
            "--additional-tag",
            "c:3",
            "--encrypt-layer=-1,0",
            "--retry-times",
            "3",
            "--retry-delay=1s",
            "--image-parallel-copies=2",
            "--multi-arch",
            "all",
            "x",
            "y",
        ]);
        assert_eq!(copy.dest_compress_format.as_deref(), Some("zstd"));
        assert_eq!(copy.dest_compress_level, Some(19));
        assert_eq!(copy.shared.format.as_deref(), Some("oci"));
        assert_eq!(copy.additional_tag, ["a:1", "b:2", "c:3"]);
        assert_eq!(copy.encrypt_layer, [-1, 0]);
        assert_eq!(copy.retry.retry_times, 3);
        assert_eq!(copy.retry.retry_delay, Some(Duration::from_secs(1)));
        assert_eq!(copy.image_parallel_copies, Some(2));
        assert_eq!(copy.multi_arch.as_deref(), Some("all"));
        assert_eq!((copy.source(), copy.destination()), ("x", "y"));
    }

    #[test]
    fn hidden_creds_aliases() {
        let copy = copy_args(&["--screds", "u:p", "--dcreds=v:q", "a", "b"]);
        assert_eq!(copy.src.creds.as_deref(), Some("u:p"));
        assert_eq!(copy.dest.creds.as_deref(), Some("v:q"));
    }

    #[test]
    fn global_flags_work_before_and_after_the_subcommand() {
        let cli = parse(&[
            "--override-arch",
            "arm64",
            "inspect",
            "--debug",
            "--insecure-policy",
            "--command-timeout=2m",
            "--registries.d",
            "/r",
            "x",
        ]);
        assert!(cli.global.debug);
        assert!(cli.global.insecure_policy);
        assert_eq!(cli.global.override_arch.as_deref(), Some("arm64"));
        assert_eq!(cli.global.command_timeout, Some(Duration::from_secs(120)));
        assert_eq!(cli.global.registries_d, Some(PathBuf::from("/r")));
    }

    #[test]
    fn deprecated_global_tls_verify_only_before_the_subcommand() {
        let cli = parse(&["--tls-verify=false", "inspect", "x"]);
        assert_eq!(cli.deprecated_tls_verify, Some(false));
        let cli = parse(&["inspect", "--tls-verify=false", "x"]);
        assert_eq!(cli.deprecated_tls_verify, None);
        match cli.command {
            Some(Command::Inspect(inspect)) => assert_eq!(inspect.image.tls_verify, Some(false)),
            other => panic!("not inspect: {other:?}"),
        }
    }

    #[test]
    fn inspect_flags() {
        let cli = parse(&[
            "inspect",
            "--raw",
            "--config=true",
            "-n",
            "-f",
            "{{.Os}}",
            "x",
        ]);
        match cli.command {
            Some(Command::Inspect(inspect)) => {
                assert!(inspect.raw && inspect.config && inspect.no_tags);
                assert_eq!(inspect.format.as_deref(), Some("{{.Os}}"));
                assert_eq!(inspect.images, ["x"]);
            }
            other => panic!("not inspect: {other:?}"),
        }
    }

    #[test]
    fn credential_flags_are_checked_like_skopeo() {
        let auth = |creds, user, pass, none| docker_auth(creds, user, pass, none);
        assert_eq!(
            auth(Some("u:p:q"), None, None, false).unwrap(),
            Some(DockerAuth {
                username: "u".into(),
                password: "p:q".into()
            })
        );
        assert_eq!(
            auth(Some("u"), None, None, false).unwrap(),
            Some(DockerAuth {
                username: "u".into(),
                password: String::new()
            })
        );
        assert_eq!(
            auth(None, None, None, true).unwrap(),
            Some(DockerAuth::default())
        );
        assert_eq!(auth(None, None, None, false).unwrap(), None);
        let message = |r: anyhow::Result<Option<DockerAuth>>| r.unwrap_err().to_string();
        assert_eq!(
            message(auth(Some("a"), Some("b"), None, false)),
            "creds and username cannot be specified at the same time"
        );
        assert_eq!(
            message(auth(None, Some("b"), None, false)),
            "password must be specified when username is specified"
        );
        assert_eq!(
            message(auth(Some(":p"), None, None, false)),
            "username can't be empty"
        );
        assert_eq!(
            message(auth(Some("a"), None, None, true)),
            "creds and no-creds cannot be specified at the same time"
        );
    }

    #[test]
    fn version_is_root_only() {
        let err = Cli::try_parse_from(["skopos", "-v"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
        assert_eq!(
            err.to_string(),
            format!("skopos version {}\n", env!("CARGO_PKG_VERSION"))
        );
        assert!(Cli::try_parse_from(["skopos", "inspect", "-v", "x"]).is_err());
    }

    #[test]
    fn other_commands_parse_their_flags() {
        assert!(matches!(
            parse(&[
                "sync",
                "--src",
                "docker",
                "-d",
                "dir",
                "--scoped",
                "--dry-run",
                "a",
                "b"
            ])
            .command,
            Some(Command::Sync(_))
        ));
        assert!(matches!(
            parse(&["login", "-u", "me", "--password-stdin", "r.io"]).command,
            Some(Command::Login(_))
        ));
        assert!(matches!(
            parse(&["standalone-sign", "-o", "sig", "m", "r", "f"]).command,
            Some(Command::StandaloneSign(_))
        ));
        assert!(matches!(
            parse(&["experimental-image-proxy", "--sockfd", "3"]).command,
            Some(Command::ExperimentalImageProxy(_))
        ));
    }
}
