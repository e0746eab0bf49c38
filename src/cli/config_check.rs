//! `frontdesk config check`

use std::process::ExitCode;

use crate::config::Loaded;

pub fn run(loaded: &Loaded) -> ExitCode {
    print!("{}", loaded.render());
    let mut warnings = loaded.warnings.clone();
    // TLS: whether the ports can be bound now, the directory answers, what
    // certificates are at hand (only worth asking of a valid configuration).
    if loaded.is_valid() {
        let checked = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(crate::tls::preflight::check(&loaded.config)));
        match checked {
            Ok((lines, more)) => {
                println!();
                for line in lines {
                    println!("{line}");
                }
                warnings.extend(more);
            }
            Err(e) => eprintln!("cannot check TLS: {e}"),
        }
    }
    if !warnings.is_empty() {
        println!("\nwarnings:");
        for w in &warnings {
            println!("  {w}");
        }
    }
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
