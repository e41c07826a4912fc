// Without a console window on Windows release builds: Sentinela lives in the tray.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    sentinela_app::run();
}
