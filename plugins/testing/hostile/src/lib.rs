//! Test plugin (admission world) that misbehaves on request, to prove the host's limits.
//!
//! `validate` picks its behaviour from the request's `name`: `loop` spins forever, `memory`
//! allocates until refused, `panic` panics, `recurse` recurses without end, `giant` returns
//! 16 MiB of warnings, `log-flood` logs 10 MiB, `exit` calls `exit(3)`, and `escape` tries
//! the file system, the environment and a socket, reporting what each attempt got as
//! warnings. Any other name is answered normally with the warning `hostile:<tag>` (the
//! configuration's `tag`).

use std::hint::black_box;

use keel_sdk::admission::{Admission, Level, PluginError, Request, Steps, Verdict, config, host};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(default)]
struct Config {
    tag: String,
    /// A loopback port `escape` tries to connect to.
    port: u16,
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

struct Hostile;

impl Admission for Hostile {
    const STEPS: Steps = Steps::VALIDATE;

    fn validate(request: Request) -> Result<Verdict, PluginError> {
        let config: Config = config::<Option<Config>>()?.unwrap_or_default();
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
}

keel_sdk::export_admission!(Hostile);
