//! Where the store is when a reference does not say: as containers/storage finds it.
//! `storage.conf` (`$CONTAINERS_STORAGE_CONF`, else for a rootless user
//! `$XDG_CONFIG_HOME/containers/storage.conf`, else `/etc/containers/storage.conf`, else
//! `/usr/share/containers/storage.conf`), `$STORAGE_DRIVER`, the defaults (rootless:
//! `$XDG_DATA_HOME/containers/storage` and `$XDG_RUNTIME_DIR/containers`), and the driver an
//! existing store already uses.

use std::path::{Path, PathBuf};

use skopos_core::Result;

use crate::driver::Driver;
use crate::store::StoreLocation;

/// What a reference may say about its store (`[driver@graphroot+runroot:options]`).
#[derive(Debug, Clone, Default)]
pub struct StoreRequest {
    /// The driver named in the reference.
    pub driver: Option<String>,
    /// The graph root named in the reference.
    pub graph_root: Option<PathBuf>,
    /// The run root named in the reference.
    pub run_root: Option<PathBuf>,
    /// Driver options named in the reference (`:opt,opt`).
    pub options: Vec<String>,
}

/// Driver options that only change how layers are mounted; skopos never mounts a layer,
/// so they have nothing to do.
const MOUNT_ONLY_OPTIONS: &[&str] = &["mountopt", "mount_program", "skip_mount_home", "size"];

/// Fails for a driver option that would change what skopos writes or reads, which it does
/// not implement (such as `vfs.ignore_chown_errors` or `overlay.force_mask`).
fn check_options(options: &[String]) -> Result<()> {
    for option in options {
        let key = option
            .split_once('=')
            .map_or(option.as_str(), |(key, _)| key);
        let name = key.rsplit_once('.').map_or(key, |(_, name)| name);
        if !MOUNT_ONLY_OPTIONS.contains(&name) {
            anyhow::bail!("storage option {option:?} is not supported by skopos");
        }
    }
    Ok(())
}

/// The `[storage]` settings skopos reads from storage.conf.
#[derive(Debug, Default)]
struct StorageConf {
    driver: Option<String>,
    graph_root: Option<PathBuf>,
    run_root: Option<PathBuf>,
}

/// The store `request` means, filled in from the environment and configuration.
pub fn resolve(request: &StoreRequest) -> Result<StoreLocation> {
    check_options(&request.options)?;
    let rootless = crate::userns::rootless();
    let conf = read_storage_conf(rootless)?;
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = || env("HOME").unwrap_or_else(|| PathBuf::from("/"));
    let graph_root = request
        .graph_root
        .clone()
        .or_else(|| conf.graph_root.clone())
        .unwrap_or_else(|| {
            if rootless {
                env("XDG_DATA_HOME")
                    .unwrap_or_else(|| home().join(".local/share"))
                    .join("containers/storage")
            } else {
                PathBuf::from("/var/lib/containers/storage")
            }
        });
    let run_root = request
        .run_root
        .clone()
        .or_else(|| {
            if rootless {
                None
            } else {
                conf.run_root.clone()
            }
        })
        .unwrap_or_else(|| {
            if rootless {
                env("XDG_RUNTIME_DIR")
                    .unwrap_or_else(std::env::temp_dir)
                    .join("containers")
            } else {
                PathBuf::from("/run/containers/storage")
            }
        });
    let driver_name = request
        .driver
        .clone()
        .or_else(|| {
            std::env::var("STORAGE_DRIVER")
                .ok()
                .filter(|d| !d.is_empty())
        })
        .or(conf.driver)
        .or_else(|| prior_driver(&graph_root))
        .unwrap_or_else(|| "overlay".to_string());
    Ok(StoreLocation {
        driver: Driver::from_name(&driver_name, &graph_root)?,
        graph_root,
        run_root,
    })
}

/// The driver an existing store was made with ("using prior storage driver").
fn prior_driver(graph_root: &Path) -> Option<String> {
    ["overlay", "vfs"]
        .into_iter()
        .find(|driver| graph_root.join(format!("{driver}-layers")).is_dir())
        .map(str::to_string)
}

/// The storage.conf settings that apply. A rootless user's own file (or the one
/// `$CONTAINERS_STORAGE_CONF` names) applies whole; otherwise the system file applies, but
/// for a rootless user only its driver (its roots are root's store).
fn read_storage_conf(rootless: bool) -> Result<StorageConf> {
    let read = |path: &Path| {
        skopos_core::limits::read_file_at_most_blocking(path, skopos_core::limits::MAX_CONFIG_FILE)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(|t| parse_storage_conf(&t))
    };
    if let Some(path) = std::env::var_os("CONTAINERS_STORAGE_CONF").filter(|v| !v.is_empty()) {
        return Ok(read(Path::new(&path)).unwrap_or_default());
    }
    if rootless {
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        if let Some(conf) = config_home.and_then(|home| read(&home.join("containers/storage.conf")))
        {
            return Ok(conf);
        }
    }
    let system = [
        "/etc/containers/storage.conf",
        "/usr/share/containers/storage.conf",
    ]
    .into_iter()
    .find_map(|path| read(Path::new(path)))
    .unwrap_or_default();
    Ok(if rootless {
        StorageConf {
            driver: system.driver,
            ..StorageConf::default()
        }
    } else {
        system
    })
}

/// The `driver`, `graphroot` and `runroot` string keys of the `[storage]` table.
fn parse_storage_conf(text: &str) -> StorageConf {
    let mut conf = StorageConf::default();
    let mut in_storage = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_storage = line == "[storage]";
            continue;
        }
        if !in_storage {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.split('#').next().unwrap_or_default().trim();
        let Some(value) = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|v| !v.is_empty())
        else {
            continue;
        };
        match key.trim() {
            "driver" => conf.driver = Some(value.to_string()),
            "graphroot" => conf.graph_root = Some(PathBuf::from(value)),
            "runroot" => conf.run_root = Some(PathBuf::from(value)),
            _ => {}
        }
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_options_about_mounting_are_accepted() {
        let options = |list: &[&str]| list.iter().map(|o| o.to_string()).collect::<Vec<_>>();
        assert!(check_options(&options(&[
            "overlay.mountopt=nodev",
            "mount_program=/bin/x"
        ]))
        .is_ok());
        let error = check_options(&options(&["vfs.ignore_chown_errors=true"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "storage option \"vfs.ignore_chown_errors=true\" is not supported by skopos"
        );
    }

    #[test]
    fn storage_conf_keys_are_read_from_the_storage_table() {
        let conf = parse_storage_conf(
            "[storage]\ndriver = \"vfs\" # comment\ngraphroot = \"/g\"\nrunroot = \"/r\"\n[storage.options]\ndriver = \"x\"\n",
        );
        assert_eq!(conf.driver.as_deref(), Some("vfs"));
        assert_eq!(conf.graph_root, Some(PathBuf::from("/g")));
        assert_eq!(conf.run_root, Some(PathBuf::from("/r")));
    }
}
