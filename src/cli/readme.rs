//! The README's commands against the command line as it is: every `vae-gpu …` (and
//! `bash tools/run.sh …`) line of its code blocks, and every inline command of three words or
//! more, parses, with each optional `[…]` part and each `a | b` alternative tried in turn;
//! and the README's list of commands names every subcommand. (Running them is `tools/
//! check-readme.sh`'s job for the quick start; the real-data ones take minutes each.)

use super::Cli;
use clap::{CommandFactory, Parser};

const README: &str = include_str!("../../README.md");

/// The commands of the README: fenced lines (with `\` continuations joined and the block's
/// shell variables expanded) and inline code spans.
fn commands() -> Vec<String> {
    let mut out = Vec::new();
    let (mut fenced, mut vars, mut pending) =
        (false, Vec::<(String, String)>::new(), String::new());
    for line in README.lines() {
        if line.starts_with("```") {
            // Variables carry over blocks, as in the reader's shell.
            fenced = !fenced;
            continue;
        }
        if fenced {
            if let Some(head) = line.strip_suffix('\\') {
                pending.push_str(head);
                continue;
            }
            let full = std::mem::take(&mut pending) + line;
            let full = full.split(" #").next().unwrap_or("").to_string();
            if let Some((name, value)) = full.split_once("=\"") {
                if name.chars().all(|c| c.is_ascii_uppercase()) {
                    vars.push((format!("${name}"), value.trim_end_matches('"').to_string()));
                    continue;
                }
            }
            let mut full = full;
            for (name, value) in &vars {
                full = full.replace(name.as_str(), value);
            }
            for part in full.split("&&").flat_map(|p| p.split("; ")) {
                out.extend(invocation(part));
            }
        } else {
            for (i, span) in line.split('`').enumerate() {
                if i % 2 == 1 && span.split_whitespace().count() >= 3 {
                    out.extend(invocation(span));
                }
            }
        }
    }
    out
}

/// The arguments after `vae-gpu` or `bash tools/run.sh`, if the text runs one.
fn invocation(text: &str) -> Option<String> {
    let start = text
        .find("vae-gpu ")
        .map(|i| i + "vae-gpu ".len())
        .or_else(|| {
            text.find("tools/run.sh ")
                .map(|i| i + "tools/run.sh ".len())
        })?;
    Some(text[start..].trim().to_string())
}

/// A placeholder (`RUN`, `N`, `$SLURM_ARRAY_TASK_ID`, `FILE.html`, `RUN...`) as a value that
/// parses wherever a path, a name or a number goes.
fn concrete(word: &str) -> String {
    let word = word.trim_end_matches("...").trim_end_matches('…');
    // `quick|paper|STEPS`: the first of a value's alternatives.
    let word = word.split('|').next().unwrap_or(word);
    word.split('/')
        .map(|part| {
            let stem = part.split('.').next().unwrap_or(part);
            let placeholder = stem.starts_with('$')
                || (!stem.is_empty() && stem.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
            if placeholder {
                part.replacen(stem, "1", 1)
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every way to read a command with optional `[…]` groups: none of them, then each group's
/// alternatives (`a | b`) one at a time.
fn variants(cmd: &str) -> Vec<Vec<String>> {
    let mut plain = Vec::new();
    let mut groups: Vec<(usize, String)> = Vec::new();
    let mut rest = cmd;
    while let Some(open) = rest.find('[') {
        plain.push(rest[..open].to_string());
        let close = rest[open..].find(']').map_or(rest.len(), |c| open + c);
        groups.push((plain.len(), rest[open + 1..close].to_string()));
        rest = &rest[(close + 1).min(rest.len())..];
    }
    plain.push(rest.to_string());
    let words = |parts: &[String]| -> Vec<String> {
        parts
            .join(" ")
            .split_whitespace()
            .map(concrete)
            .filter(|w| !w.is_empty())
            .collect()
    };
    let mut out = vec![words(&plain)];
    for (at, group) in &groups {
        for alt in group.split(" | ") {
            let mut parts = plain.clone();
            parts.insert(*at, alt.to_string());
            out.push(words(&parts));
        }
    }
    out
}

#[test]
fn every_command_in_the_readme_parses() {
    let cmds = commands();
    assert!(cmds.len() >= 25, "found only {} commands", cmds.len());
    for cmd in &cmds {
        for args in variants(cmd) {
            let argv = std::iter::once("vae-gpu".to_string()).chain(args.iter().cloned());
            if let Err(e) = Cli::try_parse_from(argv) {
                panic!("README: `vae-gpu {cmd}` read as {args:?}:\n{e}");
            }
        }
    }
}

#[test]
fn the_readme_lists_every_command() {
    let list = README
        .lines()
        .find(|l| l.contains("Commands:"))
        .map(|first| {
            README[README.find(first).unwrap()..]
                .split("\n\n")
                .next()
                .unwrap()
                .to_string()
        })
        .expect("README has a 'Commands:' list");
    for sub in Cli::command().get_subcommands() {
        let name = sub.get_name();
        assert!(
            list.contains(&format!("`{name}`")),
            "README's command list lacks `{name}`: {list}"
        );
    }
}

#[test]
fn placeholders_become_values_and_optional_parts_are_each_tried() {
    assert_eq!(concrete("RUN..."), "1");
    assert_eq!(concrete("FILE.html"), "1.html");
    assert_eq!(concrete("$SLURM_ARRAY_TASK_ID/4"), "1/4");
    assert_eq!(concrete("I/N"), "1/1");
    assert_eq!(concrete("quick|paper|STEPS"), "quick");
    assert_eq!(concrete("runs/fm"), "runs/fm");
    let v = variants("sample RUN [--stage 1] [--ancestral | --alpha A]");
    assert_eq!(
        v,
        [
            vec!["sample", "1"],
            vec!["sample", "1", "--stage", "1"],
            vec!["sample", "1", "--ancestral"],
            vec!["sample", "1", "--alpha", "1"],
        ]
    );
}
