//! `frontdesk config check`

use std::process::ExitCode;

use crate::config::Loaded;

pub fn run(loaded: &Loaded) -> ExitCode {
    print!("{}", loaded.render());
    if loaded.is_valid() {
        println!("\nconfiguration is valid");
        return ExitCode::SUCCESS;
    }
    eprintln!("\ninvalid configuration:");
    for p in &loaded.problems {
        eprintln!("  {p}");
    }
    ExitCode::FAILURE
}
