//! Test workload: a WASI 0.2 command (it exports `wasi:cli/run`) that runs the steps its
//! arguments give, in order, so tests can make a container do what they need:
//!
//! - `print TEXT` / `eprint TEXT`: a line on stdout / stderr
//! - `env NAME`: `NAME=value` on stdout (`NAME unset` when it is not set)
//! - `sleep MS`: wait
//! - `tick MS`: print `tick N` every MS milliseconds, forever
//! - `alloc MIB`: allocate and touch that many MiB, and keep them
//! - `spin MS`: keep a core busy for MS milliseconds, then print how long that took
//! - `cat PATH`: the file's content on stdout (an error on stderr, and exit code 1, when it
//!   cannot be read)
//! - `write PATH TEXT`: write TEXT to the file
//! - `exit CODE`: end with that exit code
//!
//! Without `exit`, it ends with 0 after the last step.

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let mut steps = args.iter();
    while let Some(step) = steps.next() {
        let mut value = || steps.next().cloned().unwrap_or_default();
        match step.as_str() {
            "print" => println!("{}", value()),
            "eprint" => eprintln!("{}", value()),
            "env" => {
                let name = value();
                match std::env::var(&name) {
                    Ok(v) => println!("{name}={v}"),
                    Err(_) => println!("{name} unset"),
                }
            }
            "sleep" => std::thread::sleep(millis(&value())),
            "tick" => {
                let every = millis(&value());
                for n in 0.. {
                    println!("tick {n}");
                    std::thread::sleep(every);
                }
            }
            "alloc" => {
                let mib: usize = value().parse().unwrap_or(0);
                for _ in 0..mib {
                    kept.push(vec![1u8; 1 << 20]);
                }
                println!("allocated {mib} MiB");
            }
            "spin" => {
                let wanted = millis(&value());
                let began = Instant::now();
                let mut x: u64 = 0;
                // Work in small slices, counting only the work done.
                let mut done = Duration::ZERO;
                while done < wanted {
                    let slice = Instant::now();
                    for i in 0..10_000u64 {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
                    }
                    done += slice.elapsed();
                }
                println!(
                    "spun {} ms in {} ms ({x})",
                    wanted.as_millis(),
                    began.elapsed().as_millis()
                );
            }
            "cat" => {
                let path = value();
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        print!("{text}");
                        let _ = std::io::Write::flush(&mut std::io::stdout());
                    }
                    Err(e) => {
                        eprintln!("{path}: {e}");
                        std::process::exit(1);
                    }
                }
            }
            "write" => {
                let path = value();
                if let Err(e) = std::fs::write(&path, value()) {
                    eprintln!("{path}: {e}");
                    std::process::exit(1);
                }
            }
            "exit" => std::process::exit(value().parse().unwrap_or(1)),
            other => {
                eprintln!("unknown step {other:?}");
                std::process::exit(2);
            }
        }
    }
}

fn millis(text: &str) -> Duration {
    Duration::from_millis(text.parse().unwrap_or(0))
}
