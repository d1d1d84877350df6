//! Test plugin (admission world) that misbehaves on request, to prove the host's limits.
//!
//! `validate` picks its behaviour from the request's `name`: `loop` spins forever, `memory`
//! allocates until refused, `panic` panics, `recurse` recurses without end, `giant` returns
//! 16 MiB of warnings, `log-flood` logs 10 MiB, `exit` calls `exit(3)`, and `escape` tries
//! the file system, the environment and a socket, reporting what each attempt got as
//! warnings. Any other name is answered normally with the warning `hostile:<tag>` (the
//! configuration's `tag`).
//!
//! `describe`, asked once when the host loads the plugin, misbehaves as the configuration's
//! `describe` says: `panic` panics and `loop` spins forever; otherwise it answers that the
//! plugin validates.

use std::hint::black_box;

use keel_sdk::admission::{Level, PluginError, Request, Steps, Verdict, config, host};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(default)]
struct Config {
    tag: String,
    /// A loopback port `escape` tries to connect to.
    port: u16,
    /// How `describe` misbehaves: `panic`, `loop`, or not at all.
    describe: String,
}

fn configured() -> Result<Config, PluginError> {
    Ok(config::<Option<Config>>()?.unwrap_or_default())
}

fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

fn allocate_forever() -> usize {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        chunks.push(vec![1u8; 1 << 20]);
        black_box(&chunks);
    }
}

fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    black_box(recurse(depth + 1)).wrapping_add(1)
}

fn escape(port: u16) -> Vec<String> {
    let file = std::fs::read_to_string("/etc/passwd").map(|s| s.len());
    let dir = std::fs::read_dir("/").map(|d| d.count());
    let env = std::env::vars().count();
    let cwd = std::env::current_dir();
    let socket = std::net::TcpStream::connect(("127.0.0.1", port)).map(|_| ());
    vec![
        format!("file: {file:?}"),
        format!("dir: {dir:?}"),
        format!("env: {env}"),
        format!("cwd: {cwd:?}"),
        format!("socket: {socket:?}"),
    ]
}

/// The steps the plugin has (`describe`), or a misbehaviour when the configuration asks for one.
pub fn describe() -> Steps {
    match configured().map(|c| c.describe).as_deref() {
        Ok("panic") => panic!("hostile plugin panics in describe on purpose"),
        Ok("loop") => spin(),
        _ => Steps::VALIDATE,
    }
}

/// Misbehaves as the request's name says, or warns `hostile:<tag>`.
pub fn validate(request: Request) -> Result<Verdict, PluginError> {
    let config = configured()?;
    let warnings = match request.name.as_str() {
        "loop" => spin(),
        "memory" => vec![allocate_forever().to_string()],
        "panic" => panic!("hostile plugin panics on purpose"),
        "recurse" => vec![recurse(0).to_string()],
        "giant" => vec!["x".repeat(16 << 20)],
        "log-flood" => {
            let line = "y".repeat(1 << 10);
            for _ in 0..10 << 10 {
                host::log(Level::Info, &line);
            }
            vec!["flooded".into()]
        }
        "exit" => std::process::exit(3),
        "escape" => escape(config.port),
        _ => vec![format!("hostile:{}", config.tag)],
    };
    Ok(Verdict {
        warnings,
        ..Verdict::allow()
    })
}

/// The contract's exports, written out rather than by `export_admission!` (whose
/// `describe` answers a constant), so that `describe` can misbehave too.
#[cfg(target_arch = "wasm32")]
mod export {
    use keel_sdk::admission::bindings::exports::keel::plugin::admission::Guest;
    use keel_sdk::admission::{Mutation, PluginError, Request, Steps, Verdict};

    struct Export;

    impl Guest for Export {
        fn describe() -> Steps {
            super::describe()
        }
        fn mutate(_: Request) -> Result<Mutation, PluginError> {
            Ok(Mutation::none())
        }
        fn validate(request: Request) -> Result<Verdict, PluginError> {
            super::validate(request)
        }
    }

    keel_sdk::admission::bindings::export!(Export with_types_in keel_sdk::admission::bindings);
}
