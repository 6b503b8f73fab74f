//! `stand-in-agent`: see the `stand_in_agent` library docs for the step list.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let script = std::env::var_os(stand_in_agent::SCRIPT_ENV);
    let code = stand_in_agent::main_with(&argv, script.as_ref());
    std::process::exit(code);
}
