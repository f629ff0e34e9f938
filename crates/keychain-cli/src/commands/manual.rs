//! `keychain completion` and `keychain man`: generated from the same clap definitions that
//! parse the command line, so they cannot drift from it.

use std::io::Write;

use clap::CommandFactory;
use keychain::{Error, Result};

use super::Outcome;
use crate::cli::{Cli, CompletionArgs};

/// Prints the completion script for a shell on stdout.
pub fn completion(args: CompletionArgs) -> Result<Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "keychain", &mut script);
    write_stdout(&script)
}

/// Prints the manual page (roff) on stdout: the command, its global options, and a section
/// per subcommand with its own options, so one page documents the whole command line.
pub fn man() -> Result<Outcome> {
    let command = Cli::command();
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(command.clone());
    man.render(&mut page)
        .map_err(|e| Error::io("rendering the manual page", e))?;
    for sub in command.get_subcommands() {
        render_subcommand(&mut page, "keychain", sub)?;
    }
    write_stdout(&page)
}

/// Appends a section for `sub` (and, recursively, its subcommands): its synopsis, description
/// and options, rendered by clap_mangen.
fn render_subcommand(page: &mut Vec<u8>, parent: &str, sub: &clap::Command) -> Result<()> {
    if sub.is_hide_set() {
        return Ok(());
    }
    let full = format!("{parent} {}", sub.get_name());
    let named = sub
        .clone()
        .display_name(full.clone())
        .bin_name(full.clone());
    let man = clap_mangen::Man::new(named.clone());
    let io = |e| Error::io("rendering the manual page", e);
    writeln!(page, ".SH \"{}\"", full.to_uppercase()).map_err(io)?;
    man.render_synopsis_section(page).map_err(io)?;
    man.render_description_section(page).map_err(io)?;
    if named.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(page).map_err(io)?;
    }
    for inner in sub.get_subcommands() {
        render_subcommand(page, &full, inner)?;
    }
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> Result<Outcome> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("writing to stdout", e))?;
    Ok(Outcome::Success)
}
