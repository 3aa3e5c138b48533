//! Two GnuPG keys in a private GNUPGHOME inside a test's work area, made as a user makes
//! them (`gpg --quick-gen-key`): alice@example.com without a passphrase, bob@example.com
//! with [`BOB_PASSPHRASE`]. Their public keys are exported to `alice.gpg` and `bob.gpg`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Workspace;

/// Bob's passphrase (also in the work area's file `passphrase`).
pub const BOB_PASSPHRASE: &str = "bob's long passphrase";

/// Two keys in a private GNUPGHOME inside the work area.
pub struct Keys {
    /// The GNUPGHOME.
    pub home: PathBuf,
    /// Alice's fingerprint.
    pub alice: String,
    /// Bob's fingerprint.
    pub bob: String,
}

impl Keys {
    pub fn new(workspace: &Workspace) -> Keys {
        let home = workspace.path("gnupg");
        std::fs::create_dir(&home).unwrap();
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let mut keys = Keys {
            home,
            alice: String::new(),
            bob: String::new(),
        };
        keys.alice = keys.generate("alice@example.com", "");
        keys.bob = keys.generate("bob@example.com", BOB_PASSPHRASE);
        for (name, fingerprint) in [("alice.gpg", &keys.alice), ("bob.gpg", &keys.bob)] {
            let exported = keys.gpg(&["--export", fingerprint]);
            std::fs::write(workspace.path(name), exported).unwrap();
        }
        std::fs::write(workspace.path("passphrase"), format!("{BOB_PASSPHRASE}\n")).unwrap();
        keys
    }

    /// `GNUPGHOME` for commands using these keys.
    pub fn env(&self) -> [(&str, &str); 1] {
        [("GNUPGHOME", self.home.to_str().unwrap())]
    }

    /// Runs gpg on this home; returns stdout, failing the test if gpg fails.
    pub fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let output = Command::new("gpg")
            .env("GNUPGHOME", &self.home)
            .args(["--batch", "--no-tty"])
            .args(args)
            .output()
            .expect("running gpg");
        assert!(
            output.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// `gpg --quick-gen-key`, as a user would make a key; returns its fingerprint.
    fn generate(&self, email: &str, passphrase: &str) -> String {
        self.gpg(&[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
            "--quick-gen-key",
            email,
            "default",
            "default",
            "never",
        ]);
        String::from_utf8(self.gpg(&["--with-colons", "--list-keys", email]))
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix("fpr:"))
            .map(|rest| rest.trim_matches(':').to_string())
            .expect("a fingerprint")
    }
}

impl Drop for Keys {
    /// gpg and gpgme start agents for the home; none may outlive the test (nor keep a
    /// passphrase cached between the cases of one test).
    fn drop(&mut self) {
        stop_agents(&self.home);
    }
}

/// Stops the gpg agents started for `home`.
pub fn stop_agents(home: &Path) {
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", home)
        .args(["--kill", "gpg-agent"])
        .status();
    // skopeo may run in a user namespace, where the agent's socket is looked up elsewhere.
    let _ = Command::new("unshare")
        .args(["--user", "--map-user=1000", "--map-group=1000", "gpgconf"])
        .args(["--kill", "gpg-agent"])
        .env("GNUPGHOME", home)
        .status();
}
