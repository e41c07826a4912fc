//! Default locations of the configuration file and the data directory, per OS, through the
//! `directories` crate: XDG on Linux (`~/.config/sentinela`, `~/.local/share/sentinela`),
//! Application Support on macOS, and on Windows the configuration in the roaming profile
//! (`%APPDATA%\Sentinela\config`, which follows the user) and the journal in the local one
//! (`%LOCALAPPDATA%\Sentinela\data`): a database that changes every minute must not be copied
//! to a server at every logoff by a roaming profile, nor opened from two machines at once.

use std::path::PathBuf;

use directories::ProjectDirs;

fn project() -> Option<ProjectDirs> {
    // No organisation: Windows would put it in the path twice (`Sentinela\Sentinela`).
    ProjectDirs::from("br", "", "Sentinela")
}

/// `<config dir>/sentinela.toml`, or `sentinela.toml` in the working directory if the OS has no
/// home directory for this user.
pub fn default_config_file() -> PathBuf {
    project()
        .map(|p| p.config_dir().join("sentinela.toml"))
        .unwrap_or_else(|| PathBuf::from("sentinela.toml"))
}

/// Where the journal lives by default.
pub fn default_data_dir() -> PathBuf {
    project()
        .map(|p| p.data_local_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from("sentinela-data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_os_folders_named_once() {
        let (config, data) = (default_config_file(), default_data_dir());
        assert!(config.ends_with("sentinela.toml"));
        let named = |p: &std::path::Path| {
            p.components().filter(|c| c.as_os_str().eq_ignore_ascii_case("sentinela")).count()
        };
        assert_eq!(named(&config), 1, "{}", config.display());
        assert_eq!(named(&data), 1, "{}", data.display());
        #[cfg(windows)]
        {
            let local = std::env::var_os("LOCALAPPDATA").map(PathBuf::from);
            let roaming = std::env::var_os("APPDATA").map(PathBuf::from);
            assert!(
                local.is_some_and(|l| data.starts_with(l)),
                "the journal in the local profile: {}",
                data.display()
            );
            assert!(
                roaming.is_some_and(|r| config.starts_with(r)),
                "the configuration in the roaming profile: {}",
                config.display()
            );
        }
        #[cfg(target_os = "linux")]
        assert!(
            config.ends_with(".config/sentinela/sentinela.toml")
                || std::env::var_os("XDG_CONFIG_HOME").is_some(),
            "{}",
            config.display()
        );
    }
}
