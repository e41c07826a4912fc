//! Default locations of the configuration file and the data directory, per OS, through the
//! `directories` crate (XDG on Linux, AppData on Windows, Application Support on macOS).

use std::path::PathBuf;

use directories::ProjectDirs;

fn project() -> Option<ProjectDirs> {
    ProjectDirs::from("br", "Sentinela", "Sentinela")
}

/// `<config dir>/sentinela.toml`, or `sentinela.toml` in the working directory if the OS has no
/// home directory for this user.
pub fn default_config_file() -> PathBuf {
    project().map(|p| p.config_dir().join("sentinela.toml")).unwrap_or_else(|| PathBuf::from("sentinela.toml"))
}

/// Where the journal lives by default.
pub fn default_data_dir() -> PathBuf {
    project().map(|p| p.data_dir().to_owned()).unwrap_or_else(|| PathBuf::from("sentinela-data"))
}
