//! The hand-written parts of the manual pages, in skopos's own words. Spans in backticks are
//! set in bold. The options themselves are not described here: they come from the clap
//! definition.

/// A piece of a section.
pub(super) enum Block {
    /// A paragraph.
    Paragraph(&'static str),
    /// A term and what it means, as an indented list item.
    Item(&'static str, &'static str),
}

/// One example: what it does, then the command line (one line per line of text).
pub(super) struct Example {
    pub what: &'static str,
    pub command: &'static str,
}

/// The hand-written sections of one page.
pub(super) struct PageText {
    /// What follows the command in the SYNOPSIS line.
    pub synopsis: &'static str,
    pub description: &'static [Block],
    /// Whether the command takes image names, so the page lists the transports.
    pub transports: bool,
    pub examples: &'static [Example],
    pub exit_status: &'static [Block],
    pub see_also: &'static [&'static str],
}

/// The commands with a page of their own (every command `--help` lists); the tests check the
/// list against the clap definition.
#[cfg(test)]
pub(super) const COMMANDS: [&str; 11] = [
    "copy",
    "delete",
    "generate-sigstore-key",
    "inspect",
    "list-tags",
    "login",
    "logout",
    "manifest-digest",
    "standalone-sign",
    "standalone-verify",
    "sync",
];

/// The hand-written text of `command`'s page.
pub(super) fn command_page(command: &str) -> Option<&'static PageText> {
    Some(match command {
        "copy" => &COPY,
        "delete" => &DELETE,
        "generate-sigstore-key" => &GENERATE_SIGSTORE_KEY,
        "inspect" => &INSPECT,
        "list-tags" => &LIST_TAGS,
        "login" => &LOGIN,
        "logout" => &LOGOUT,
        "manifest-digest" => &MANIFEST_DIGEST,
        "standalone-sign" => &STANDALONE_SIGN,
        "standalone-verify" => &STANDALONE_VERIFY,
        "sync" => &SYNC,
        _ => return None,
    })
}

/// The hand-written text of skopos(1).
pub(super) fn program_page() -> &'static PageText {
    &PROGRAM
}

/// How image names are written, for every page whose command takes them.
pub(super) const TRANSPORTS: &[Block] = &[
    Block::Paragraph(
        "An image name is a transport, a colon and a location whose form the transport \
         decides. A name without a known transport is refused.",
    ),
    Block::Item(
        "`containers-storage:`[[DRIVER@]GRAPHROOT[+RUNROOT]]REFERENCE",
        "An image in the local store of podman, buildah and CRI-O. Without the bracketed \
         part the store is found as those tools find it (storage.conf).",
    ),
    Block::Item(
        "`dir:`PATH",
        "A directory holding the manifest, the config and every layer as separate files, \
         with the image's signatures beside them.",
    ),
    Block::Item(
        "`docker://`REFERENCE",
        "An image in a registry that speaks the Docker Registry HTTP API V2, such as \
         docker://quay.io/podman/hello:latest. Credentials come from the flags, the \
         authentication file written by `skopos login`, or the Docker client's config.",
    ),
    Block::Item(
        "`docker-archive:`PATH[:REFERENCE]",
        "A tar file in the format of `docker save`. When writing, REFERENCE names the image \
         inside the archive; when reading an archive with several images, it picks one.",
    ),
    Block::Item(
        "`docker-daemon:`REFERENCE",
        "An image in the store of a Docker engine (or podman's Docker-compatible API \
         service), reached through its API socket.",
    ),
    Block::Item(
        "`oci:`PATH[:REFERENCE]",
        "An image in a directory laid out as the OCI Image Layout Specification describes; \
         REFERENCE is the image's name in the layout's index.",
    ),
    Block::Item(
        "`oci-archive:`PATH[:REFERENCE]",
        "An OCI image layout packed into a tar file.",
    ),
    Block::Item(
        "`ostree:`REFERENCE[@REPOSITORY]",
        "An image in an OSTree repository (only in builds made with OSTree support).",
    ),
    Block::Item(
        "`sif:`PATH",
        "A Singularity image file, read as a one-layer image (reading only).",
    ),
    Block::Item(
        "`tarball:`PATH",
        "A tar file, compressed or not, read as an image with that one layer (reading only).",
    ),
    Block::Item(
        "`atomic:`[HOST/]NAMESPACE/STREAM:TAG",
        "An image stream tag of an OpenShift cluster (deprecated).",
    ),
];

const NO_FAILURE_KINDS: &[Block] = &[
    Block::Item("0", "The command did what it was asked."),
    Block::Item(
        "1",
        "It failed; one line on standard error says why. Usage errors end the same way.",
    ),
];

const IMAGE_FAILURE_KINDS: &[Block] = &[
    Block::Item("0", "The command did what it was asked."),
    Block::Item(
        "1",
        "It failed for any reason but a missing image; one line on standard error says why. \
         Usage errors end the same way.",
    ),
    Block::Item(
        "2",
        "The image does not exist: the registry, layout, archive or store has no image of \
         that name.",
    ),
];

const PROGRAM: PageText = PageText {
    synopsis: "[global options] command [options] [arguments]",
    description: &[
        Block::Paragraph(
            "skopos works with container images and the registries that hold them, without a \
             daemon: it copies images between registries, local directories, \
             archives and container stores, shows what an image contains without pulling it, \
             signs and verifies images, mirrors whole repositories and deletes images.",
        ),
        Block::Paragraph(
            "It is skopeo rebuilt in Rust. Command lines, flags, configuration files, output \
             and exit statuses are skopeo's, so scripts written for skopeo keep working; \
             started under the name `skopeo` (a symbolic link), it also calls itself skopeo in \
             its messages.",
        ),
        Block::Paragraph(
            "Configuration is read from the same files as the other containers tools: the \
             trust policy (containers-policy.json(5)), registry settings and mirrors \
             (containers-registries.conf(5)), credentials (containers-auth.json(5)), signature \
             storage (containers-registries.d(5)), and per-registry certificates \
             (containers-certs.d(5)).",
        ),
        Block::Paragraph(
            "Each command has a page of its own, named skopos-COMMAND(1); `skopos COMMAND \
             --help` gives a summary of its options.",
        ),
    ],
    transports: true,
    examples: &[
        Example {
            what: "Show what an image in a registry is made of, without downloading its layers:",
            command: "skopos inspect docker://quay.io/podman/hello:latest",
        },
        Example {
            what: "Copy it into a local OCI layout:",
            command: "skopos copy docker://quay.io/podman/hello:latest oci:/tmp/hello:latest",
        },
    ],
    exit_status: IMAGE_FAILURE_KINDS,
    see_also: &[
        "skopos-copy(1)",
        "skopos-inspect(1)",
        "skopos-sync(1)",
        "skopeo(1)",
        "containers-policy.json(5)",
        "containers-registries.conf(5)",
        "containers-auth.json(5)",
        "containers-transports(5)",
    ],
};

const COPY: PageText = PageText {
    synopsis: "[options] SOURCE-IMAGE DESTINATION-IMAGE",
    description: &[
        Block::Paragraph(
            "Copies the image SOURCE-IMAGE names to DESTINATION-IMAGE. Any transport skopos \
             can read may be the source and any it can write the destination; layers stream \
             from one to the other and are checked against their digests on the way.",
        ),
        Block::Paragraph(
            "Before anything is written, the trust policy must accept the source image \
             (`--policy`, else ~/.config/containers/policy.json, else \
             /etc/containers/policy.json); `--insecure-policy` skips that check.",
        ),
        Block::Paragraph(
            "When the source is a list of images for several platforms, one image is picked \
             for this machine's platform (or the one `--override-os`, `--override-arch` and \
             `--override-variant` describe) unless `--all` or `--multi-arch` asks for more. \
             Layers the destination already holds are not copied again, and a registry \
             destination may mount a layer from another of its repositories instead of \
             receiving it again.",
        ),
        Block::Paragraph(
            "The manifest format is kept when the destination accepts it and converted \
             otherwise, or as `--format` asks. Signatures travel with the image unless \
             `--remove-signatures` is given, and the `--sign-by` options add one.",
        ),
    ],
    transports: true,
    examples: &[
        Example {
            what: "Copy an image from a registry into a directory:",
            command: "skopos copy docker://quay.io/podman/hello:latest dir:/tmp/hello",
        },
        Example {
            what: "Push a local OCI layout to a registry, with the credentials given on the \
                   command line:",
            command: "skopos copy --dest-creds user:secret oci:/srv/images/app:1.0 \\\n    \
                      docker://registry.example.com/app:1.0",
        },
        Example {
            what: "Copy every platform of a multi-platform image, recompressing its layers \
                   with zstd:",
            command: "skopos copy --all --dest-compress-format zstd \\\n    \
                      docker://registry.example.com/app:1.0 oci:/tmp/app:1.0",
        },
        Example {
            what: "Save an image into an archive that `docker load` reads:",
            command: "skopos copy docker://quay.io/podman/hello:latest \\\n    \
                      docker-archive:/tmp/hello.tar:hello:latest",
        },
        Example {
            what: "Copy and sign with a GnuPG key, writing the manifest digest to a file:",
            command: "skopos copy --sign-by 0123456789ABCDEF --digestfile /tmp/digest \\\n    \
                      oci:/srv/images/app:1.0 docker://registry.example.com/app:1.0",
        },
    ],
    exit_status: IMAGE_FAILURE_KINDS,
    see_also: &[
        "skopos(1)",
        "skopos-sync(1)",
        "skopos-inspect(1)",
        "containers-policy.json(5)",
        "containers-registries.d(5)",
        "containers-transports(5)",
    ],
};

const DELETE: PageText = PageText {
    synopsis: "[options] IMAGE-NAME",
    description: &[
        Block::Paragraph(
            "Deletes the image IMAGE-NAME names. In a registry (`docker://`) the manifest is \
             deleted, which removes every tag pointing at it; the registry must allow \
             deletion, and frees the layers only when its garbage collection runs. In a \
             container store (`containers-storage:`) the image is removed with those of its \
             layers no other image uses.",
        ),
        Block::Paragraph("Other transports do not support deleting images."),
    ],
    transports: true,
    examples: &[
        Example {
            what: "Delete a tagged image from a registry:",
            command: "skopos delete docker://registry.example.com/app:1.0",
        },
        Example {
            what: "Delete an image by its digest (HEX holds it), sending a bearer token:",
            command: "skopos delete --registry-token \"$TOKEN\" \\\n    \
                      docker://registry.example.com/app@sha256:$HEX",
        },
    ],
    exit_status: IMAGE_FAILURE_KINDS,
    see_also: &["skopos(1)", "skopos-login(1)", "containers-transports(5)"],
};

const GENERATE_SIGSTORE_KEY: PageText = PageText {
    synopsis: "[options] --output-prefix PREFIX",
    description: &[
        Block::Paragraph(
            "Creates a new key pair for sigstore signatures: the public key in PREFIX.pub and \
             the private key, encrypted with a passphrase, in PREFIX.private. The files are \
             in the format cosign reads and writes, and neither may exist yet.",
        ),
        Block::Paragraph(
            "The passphrase is read from the file `--passphrase-file` names, or asked for \
             on the terminal. Sign with the private key through `skopos copy \
             --sign-by-sigstore-private-key`, and name the public key in a `sigstoreSigned` \
             requirement of the trust policy.",
        ),
    ],
    transports: false,
    examples: &[Example {
        what: "Create mykey.pub and mykey.private:",
        command: "skopos generate-sigstore-key --output-prefix mykey",
    }],
    exit_status: NO_FAILURE_KINDS,
    see_also: &["skopos(1)", "skopos-copy(1)", "containers-policy.json(5)"],
};

const INSPECT: PageText = PageText {
    synopsis: "[options] IMAGE-NAME",
    description: &[
        Block::Paragraph(
            "Prints what an image is made of, reading only its manifest and config, never its \
             layers: by default a JSON summary with the image's name, digest, tags in its \
             repository (registries only; `--no-tags` leaves them out), creation time, \
             platform, labels, environment and layers.",
        ),
        Block::Paragraph(
            "`--raw` prints the manifest exactly as stored (for a multi-platform image, the \
             list itself); `--config` prints the image's config, and both together the config \
             exactly as stored. `--format` prints the summary through a Go template instead \
             of as JSON.",
        ),
        Block::Paragraph(
            "For a multi-platform image, the summary is that of the image for this machine's \
             platform, or the one the `--override-` global options describe.",
        ),
    ],
    transports: true,
    examples: &[
        Example {
            what: "Summarise an image in a registry:",
            command: "skopos inspect docker://quay.io/podman/hello:latest",
        },
        Example {
            what: "Print only its digest and architecture:",
            command: "skopos inspect --format '{{.Digest}} {{.Architecture}}' \\\n    \
                      docker://quay.io/podman/hello:latest",
        },
        Example {
            what: "Print the raw manifest of an image in an OCI layout:",
            command: "skopos inspect --raw oci:/srv/images/app:1.0",
        },
    ],
    exit_status: IMAGE_FAILURE_KINDS,
    see_also: &["skopos(1)", "skopos-copy(1)", "containers-transports(5)"],
};

const LIST_TAGS: PageText = PageText {
    synopsis: "[options] SOURCE-IMAGE",
    description: &[Block::Paragraph(
        "Prints, as JSON, the tags of a repository in a registry (`docker://` followed by \
             a repository name without tag or digest), reading every page of the registry's \
             tag list, or the tags of the images in a `docker-archive:` file.",
    )],
    transports: true,
    examples: &[
        Example {
            what: "List the tags of a repository:",
            command: "skopos list-tags docker://quay.io/podman/hello",
        },
        Example {
            what: "List the tags in an archive made by `docker save`:",
            command: "skopos list-tags docker-archive:/tmp/images.tar",
        },
    ],
    exit_status: NO_FAILURE_KINDS,
    see_also: &["skopos(1)", "skopos-inspect(1)"],
};

const LOGIN: PageText = PageText {
    synopsis: "[options] REGISTRY",
    description: &[
        Block::Paragraph(
            "Checks a user name and password against REGISTRY and, when the registry accepts \
             them, stores them in the authentication file (${XDG_RUNTIME_DIR}/containers/auth.json \
             unless `--authfile` or REGISTRY_AUTH_FILE names another) or in the credential \
             helper configured for that registry. The commands that talk to registries use \
             them from then on.",
        ),
        Block::Paragraph(
            "Whatever `--username` and `--password` leave out is asked for on the terminal; \
             `--password-stdin` reads the password from standard input instead, which keeps \
             it out of the process list and the shell history. `--get-login` prints the user \
             logged in to REGISTRY.",
        ),
    ],
    transports: false,
    examples: &[
        Example {
            what: "Log in, asked for the password:",
            command: "skopos login -u alice registry.example.com",
        },
        Example {
            what: "Log in from a script:",
            command: "printf '%s' \"$PASSWORD\" | skopos login -u alice --password-stdin \\\n    \
                      registry.example.com",
        },
    ],
    exit_status: NO_FAILURE_KINDS,
    see_also: &["skopos(1)", "skopos-logout(1)", "containers-auth.json(5)"],
};

const LOGOUT: PageText = PageText {
    synopsis: "[options] REGISTRY",
    description: &[Block::Paragraph(
        "Removes the credentials stored for REGISTRY from the authentication file or its \
         credential helper; with `--all`, removes the credentials of every registry from the \
         authentication file.",
    )],
    transports: false,
    examples: &[
        Example {
            what: "Forget the credentials of one registry:",
            command: "skopos logout registry.example.com",
        },
        Example {
            what: "Forget them all:",
            command: "skopos logout --all",
        },
    ],
    exit_status: NO_FAILURE_KINDS,
    see_also: &["skopos(1)", "skopos-login(1)", "containers-auth.json(5)"],
};

const MANIFEST_DIGEST: PageText = PageText {
    synopsis: "MANIFEST",
    description: &[Block::Paragraph(
        "Prints the digest of the manifest in the file MANIFEST: the digest a registry would \
         give the image, which names it in a reference such as NAME@sha256:HEX. For a schema 1 \
         manifest the signatures embedded in it are left out of the digest, as registries do.",
    )],
    transports: false,
    examples: &[Example {
        what: "The digest of a manifest copied into a directory:",
        command: "skopos manifest-digest /tmp/hello/manifest.json",
    }],
    exit_status: NO_FAILURE_KINDS,
    see_also: &["skopos(1)", "skopos-standalone-sign(1)"],
};

const STANDALONE_SIGN: PageText = PageText {
    synopsis: "[options] MANIFEST DOCKER-REFERENCE KEY-FINGERPRINT --output SIGNATURE",
    description: &[
        Block::Paragraph(
            "Makes a simple-signing signature that binds the manifest in the file MANIFEST to \
             the name DOCKER-REFERENCE, signed by the GnuPG key KEY-FINGERPRINT, and writes \
             it to SIGNATURE. No image or registry is involved: the signature can be made on \
             an offline machine and stored next to the image later.",
        ),
        Block::Paragraph(
            "The signing is done by the user's `gpg`, so any keyring, agent or smart card it \
             can use works; `--passphrase-file` gives the key's passphrase.",
        ),
    ],
    transports: false,
    examples: &[Example {
        what: "Sign a manifest for registry.example.com/app:1.0:",
        command: "skopos standalone-sign -o app.sig /tmp/app/manifest.json \\\n    \
                  registry.example.com/app:1.0 0123456789ABCDEF",
    }],
    exit_status: NO_FAILURE_KINDS,
    see_also: &[
        "skopos(1)",
        "skopos-standalone-verify(1)",
        "skopos-manifest-digest(1)",
        "gpg(1)",
    ],
};

const STANDALONE_VERIFY: PageText = PageText {
    synopsis: "[options] MANIFEST DOCKER-REFERENCE KEY-FINGERPRINTS SIGNATURE",
    description: &[
        Block::Paragraph(
            "Checks that the simple-signing signature in the file SIGNATURE was made by one \
             of the keys KEY-FINGERPRINTS (a comma-separated list) over the manifest in the \
             file MANIFEST and the name DOCKER-REFERENCE, and prints the signing key's \
             fingerprint and the manifest's digest when it was.",
        ),
        Block::Paragraph(
            "The public keys are read from the file `--public-key-file` names, and then \
             KEY-FINGERPRINTS may be `any` to accept any key in it. Verification needs no \
             GnuPG.",
        ),
    ],
    transports: false,
    examples: &[Example {
        what: "Verify the signature made in skopos-standalone-sign(1):",
        command: "skopos standalone-verify --public-key-file key.gpg \\\n    \
                  /tmp/app/manifest.json registry.example.com/app:1.0 any app.sig",
    }],
    exit_status: NO_FAILURE_KINDS,
    see_also: &[
        "skopos(1)",
        "skopos-standalone-sign(1)",
        "containers-policy.json(5)",
    ],
};

const SYNC: PageText = PageText {
    synopsis: "[options] --src TRANSPORT --dest TRANSPORT SOURCE DESTINATION",
    description: &[
        Block::Paragraph(
            "Copies many images at once, to mirror a repository or a set of repositories. \
             What SOURCE means depends on `--src`:",
        ),
        Block::Item(
            "`docker`",
            "a registry repository: every tag of it, or one image when a tag is given.",
        ),
        Block::Item(
            "`dir`",
            "a local directory: every image found below it in the `dir:` layout.",
        ),
        Block::Item(
            "`yaml`",
            "a YAML file that lists registries and, for each, repositories with the tags, or \
             regular expressions matching the tags, to copy, with per-registry credentials \
             and TLS settings.",
        ),
        Block::Item(
            "`oci`",
            "an OCI image layout: every image its `index.json` names with an \
             `org.opencontainers.image.ref.name` annotation (as upstream skopeo's pull request \
             #2804 proposes; skopeo 1.22.2 has no `oci` for sync).",
        ),
        Block::Paragraph(
            "DESTINATION is a registry (`--dest docker`), a directory (`--dest dir`) or one OCI \
             layout holding every image (`--dest oci`), each named there by what would be its \
             path below DESTINATION. Each image keeps its repository's last path component \
             under DESTINATION, or its whole path with `--scoped`. Images already at a registry \
             or layout destination are left alone. `--dry-run` lists what would be copied; \
             `--keep-going` goes on after an image fails to copy and reports the failures at \
             the end.",
        ),
    ],
    transports: false,
    examples: &[
        Example {
            what: "Mirror every tag of a repository into a private registry:",
            command: "skopos sync --src docker --dest docker \\\n    \
                      quay.io/podman/hello registry.example.com/mirror",
        },
        Example {
            what: "Copy the images a YAML file lists into directories:",
            command: "skopos sync --src yaml --dest dir images.yaml /srv/mirror",
        },
        Example {
            what: "Carry a repository, with what is attached to its images, into an OCI \
                   layout and from there into an air-gapped registry:",
            command: "skopos sync --skopos-referrers --src docker --dest oci \\\n    \
                      quay.io/podman/hello mirror\n\
                      skopos sync --skopos-referrers --src oci --dest docker \\\n    \
                      mirror registry.example.com/mirror",
        },
    ],
    exit_status: NO_FAILURE_KINDS,
    see_also: &[
        "skopos(1)",
        "skopos-copy(1)",
        "containers-registries.conf(5)",
    ],
};
