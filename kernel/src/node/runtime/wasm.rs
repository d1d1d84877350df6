//! The embedded runtime: a container is a WASI 0.2 component exporting `wasi:cli/run`,
//! run in wasmtime with the container's arguments and environment, its stdout and stderr
//! going to the container's log.
//!
//! - Images are compiled once per layer digest (in memory and in the node's compile cache
//!   on disk) and pre-linked; a start is an instantiation.
//! - Runs are tasks on the runtime's own threads, never the agent's. Epoch interruption
//!   makes a run yield every tick, which is where its CPU limit is applied (a run that used
//!   more than its share of wall time waits, as a CFS quota throttles) and what lets a
//!   stopped run end at once, even mid-computation.
//! - `resources.limits.memory` caps linear memory; a run that reaches it ends `OOMKilled`.
//! - WASI has no signals, so stopping does not wait out a grace period: the run is
//!   dropped (exit code 137).
//! - The pod's volumes are preopened directories at their mount paths (read-only when
//!   mounted so); nothing else is granted: no other files, no sockets.
//! - WASI 0.2's `exit` says success or failure only, so exit codes are 0 or 1 (137 when
//!   killed, 134 when the module traps).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::{ContainerSpec, Exit, Running, Runtime, StartError, WASM};
use crate::node::images::{Image, ImageStore};
use crate::node::logs::{RunLog, Stream};
use crate::plugin::MemoryLimiter;
use crate::plugin::compile::CompileCache;

/// How often running containers yield (and their CPU use is checked).
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Threads that run containers.
const WORKER_THREADS: usize = 2;

/// The host state of one run.
struct ContainerState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
}

impl WasiView for ContainerState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The runtime.
pub struct WasmRuntime {
    engine: Engine,
    linker: Linker<ContainerState>,
    compiled: CompileCache,
    /// Pre-linked commands by manifest digest.
    prepared: Mutex<HashMap<String, CommandPre<ContainerState>>>,
    images: Arc<ImageStore>,
    executor: Executor,
    /// The epoch ticker runs while this lives.
    _ticking: Arc<()>,
}

impl WasmRuntime {
    /// A runtime reading images from `images`, caching compiled code under `cache_dir`.
    pub fn new(
        images: Arc<ImageStore>,
        cache_dir: Option<std::path::PathBuf>,
    ) -> Result<WasmRuntime, String> {
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| format!("wasm engine: {e:#}"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| format!("linking WASI: {e:#}"))?;
        let ticking = Arc::new(());
        let ticker_engine = engine.clone();
        let alive = Arc::downgrade(&ticking);
        std::thread::Builder::new()
            .name("keel-wasm-epoch".into())
            .spawn(move || tick(&ticker_engine, &alive))
            .map_err(|e| format!("cannot start the epoch ticker: {e}"))?;
        Ok(WasmRuntime {
            engine,
            linker,
            compiled: CompileCache::new(cache_dir),
            prepared: Mutex::new(HashMap::new()),
            images,
            executor: Executor::new()?,
            _ticking: ticking,
        })
    }

    fn prepare(&self, image: &Image) -> Result<CommandPre<ContainerState>, StartError> {
        let cached = self
            .prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&image.digest)
            .cloned();
        if let Some(pre) = cached {
            return Ok(pre);
        }
        let (digest, bytes) = self.images.wasm_module(image)?;
        let component = self
            .compiled
            .component(&self.engine, &digest, &bytes)
            .map_err(|e| StartError::Create(format!("image {}: {e}", image.name)))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(CommandPre::new)
            .map_err(|e| {
                StartError::Create(format!(
                    "image {} is not a WASI command (a component exporting wasi:cli/run): {e:#}",
                    image.name
                ))
            })?;
        self.prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(image.digest.clone(), pre.clone());
        Ok(pre)
    }
}

impl Runtime for WasmRuntime {
    fn handler(&self) -> &'static str {
        WASM
    }

    fn start(&self, spec: ContainerSpec) -> Result<Running, StartError> {
        let image = self.images.resolve(&spec.image)?;
        let pre = self.prepare(&image)?;
        let memory_cap = spec
            .memory_bytes
            .and_then(|m| usize::try_from(m).ok())
            .unwrap_or(usize::MAX);
        // A component has no entrypoint of its own: without a `command`, the container's
        // name stands for `argv[0]`.
        let argv: Vec<&String> = match spec.command.is_empty() {
            true => std::iter::once(&spec.name).chain(&spec.args).collect(),
            false => spec.command.iter().chain(&spec.args).collect(),
        };
        let mut wasi = WasiCtxBuilder::new();
        wasi.args(&argv)
            .envs(&spec.env)
            .stdout(LogOutput {
                log: spec.log.clone(),
                stream: Stream::Stdout,
            })
            .stderr(LogOutput {
                log: spec.log.clone(),
                stream: Stream::Stderr,
            })
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for mount in &spec.mounts {
            let perms = if mount.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            wasi.preopened_dir(&mount.host_path, &mount.container_path, perms)
                .map_err(|e| {
                    StartError::Create(format!("volume at {}: {e:#}", mount.container_path))
                })?;
        }
        let wasi = wasi.build();
        let state = ContainerState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_cap),
        };
        let (exit_tx, exit_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let engine = self.engine.clone();
        let log = spec.log.clone();
        let cpu_share = spec.cpu_millis.map(|m| m.max(1) as f64 / 1000.0);
        self.executor.spawn(async move {
            let mut store = Store::new(&engine, state);
            store.limiter(|s| &mut s.limiter);
            store.set_epoch_deadline(1);
            store.epoch_deadline_async_yield_and_update(1);
            let run = async {
                let result = async {
                    let command = pre.instantiate_async(&mut store).await?;
                    command.wasi_cli_run().call_run(&mut store).await
                }
                .await;
                exit_of(result, store.data().limiter.refused(), memory_cap)
            };
            let exit = tokio::select! {
                exit = Throttled::new(run, cpu_share) => exit,
                _ = stop_rx => Exit::killed(),
            };
            log.finish();
            let _ = exit_tx.send(exit);
        });
        let id = format!("wasm://{}", uuid::Uuid::new_v4().simple());
        let stop = Box::new(move |_grace: Duration| {
            let _ = stop_tx.send(());
        });
        Ok(Running::new(id, image.digest, exit_rx, stop))
    }
}

/// How a run's result reads as an exit.
fn exit_of(result: wasmtime::Result<Result<(), ()>>, refused: bool, memory_cap: usize) -> Exit {
    let code_exit = |code: i32| Exit {
        code,
        reason: if code == 0 { "Completed" } else { "Error" },
        message: None,
    };
    match result {
        Ok(Ok(())) => code_exit(0),
        Ok(Err(())) => code_exit(1),
        Err(error) => match error.downcast_ref::<I32Exit>() {
            Some(exit) => code_exit(exit.0),
            None if refused => Exit {
                code: 137,
                reason: "OOMKilled",
                message: Some(format!("memory limit of {memory_cap} bytes reached")),
            },
            None => Exit {
                // As a native program that aborts.
                code: 134,
                reason: "Error",
                message: Some(
                    format!("{error:#}")
                        .lines()
                        .next()
                        .unwrap_or("trapped")
                        .to_string(),
                ),
            },
        },
    }
}

fn tick(engine: &Engine, alive: &Weak<()>) {
    while alive.upgrade().is_some() {
        std::thread::sleep(EPOCH_TICK);
        engine.increment_epoch();
    }
}

/// The threads runs execute on, shut down without waiting when the runtime goes.
struct Executor {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Executor {
    fn new() -> Result<Executor, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("keel-wasm-run")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the container threads: {e}"))?;
        Ok(Executor {
            runtime: Some(runtime),
        })
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        if let Some(runtime) = &self.runtime {
            runtime.spawn(task);
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A run's stdout or stderr, into its log.
struct LogOutput {
    log: RunLog,
    stream: Stream,
}

impl IsTerminal for LogOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LogWriter {
            log: self.log.clone(),
            stream: self.stream,
        })
    }
}

struct LogWriter {
    log: RunLog,
    stream: Stream,
}

impl tokio::io::AsyncWrite for LogWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.log.write(self.stream, bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A future held to a share of a core: after each poll, if it has been busy longer than
/// its share of the wall time since it started, it waits until it is back within it.
struct Throttled<F> {
    inner: Pin<Box<F>>,
    share: Option<f64>,
    started: Instant,
    busy: Duration,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<F: Future> Throttled<F> {
    fn new(inner: F, share: Option<f64>) -> Self {
        Throttled {
            inner: Box::pin(inner),
            share,
            started: Instant::now(),
            busy: Duration::ZERO,
            pause: None,
        }
    }
}

impl<F: Future> Future for Throttled<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if let Some(pause) = self.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.pause = None;
        }
        let began = Instant::now();
        let result = self.inner.as_mut().poll(cx);
        self.busy += began.elapsed();
        if result.is_ready() {
            return result;
        }
        if let Some(share) = self.share {
            let allowed = self.started.elapsed().as_secs_f64() * share;
            let over = self.busy.as_secs_f64() - allowed;
            if over > 0.0 {
                let mut pause = Box::pin(tokio::time::sleep(Duration::from_secs_f64(over / share)));
                if pause.as_mut().poll(cx).is_ready() {
                    cx.waker().wake_by_ref();
                } else {
                    self.pause = Some(pause);
                }
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_throttled_future_gets_its_share_of_the_time() {
        // A busy loop that yields every millisecond, held to a quarter of a core.
        let work = async {
            let until = Instant::now() + Duration::from_millis(400);
            let mut spun = Duration::ZERO;
            while Instant::now() < until {
                let slice = Instant::now();
                while slice.elapsed() < Duration::from_millis(1) {
                    std::hint::spin_loop();
                }
                spun += slice.elapsed();
                tokio::task::yield_now().await;
            }
            spun
        };
        let started = Instant::now();
        let spun = Throttled::new(work, Some(0.25)).await;
        let wall = started.elapsed();
        let share = spun.as_secs_f64() / wall.as_secs_f64();
        assert!(share < 0.4, "used {share:.2} of a core, allowed 0.25");
        assert!(share > 0.1, "used {share:.2} of a core, allowed 0.25");
    }

    #[test]
    fn exits_read_as_kubernetes_reports_them() {
        assert_eq!(exit_of(Ok(Ok(())), false, 0).reason, "Completed");
        assert_eq!(exit_of(Ok(Err(())), false, 0).code, 1);
        let exit = exit_of(Err(wasmtime::Error::new(I32Exit(3))), false, 0);
        assert_eq!((exit.code, exit.reason), (3, "Error"));
        let oom = exit_of(Err(wasmtime::format_err!("trap")), true, 1 << 20);
        assert_eq!((oom.code, oom.reason), (137, "OOMKilled"));
        let trap = exit_of(Err(wasmtime::format_err!("unreachable\nmore")), false, 0);
        assert_eq!(trap.code, 134);
        assert_eq!(trap.message.as_deref(), Some("unreachable"));
    }
}
