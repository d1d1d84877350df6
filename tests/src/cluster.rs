//! Multi-member clusters for end-to-end tests: real `keel server` processes,
//! on loopback ports or each in its own network namespace, that can be killed
//! with SIGKILL, restarted, wiped, joined and removed; and what the tests ask
//! every member (its Raft status, its local copy of the data).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::netns::Network;
use crate::{free_port, http_to, keel_binary, kill9, wait_serving};

/// How long a request from the harness may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a member's process runs.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The API's address.
    pub api: SocketAddr,
    /// The peer listener's address as the other members reach it.
    pub peer: SocketAddr,
    /// Where the peer listener binds.
    pub peer_listen: SocketAddr,
    /// Where the harness reaches the peer listener (status, `keel member`).
    pub admin: SocketAddr,
    /// A command prefix that runs a program where the member lives (`ip netns exec NS`),
    /// empty on loopback.
    pub wrapper: Vec<String>,
}

impl Placement {
    /// Member `member` of `net`: the API on its client address (reachable from here), the
    /// peer listener on its cluster address (cut by partitions).
    pub fn in_namespace(net: &Network, member: usize) -> Placement {
        let client = IpAddr::V4(net.client_ip(member));
        Placement {
            api: SocketAddr::new(client, 6443),
            peer: SocketAddr::new(IpAddr::V4(net.cluster_ip(member)), 6480),
            peer_listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 6480),
            admin: SocketAddr::new(client, 6480),
            wrapper: vec![
                "ip".into(),
                "netns".into(),
                "exec".into(),
                net.namespace(member).to_string(),
            ],
        }
    }

    /// Free ports on loopback.
    pub fn loopback() -> Result<Placement> {
        let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let peer = SocketAddr::new(local, free_port()?);
        Ok(Placement {
            api: SocketAddr::new(local, free_port()?),
            peer,
            peer_listen: peer,
            admin: peer,
            wrapper: Vec::new(),
        })
    }
}

/// One `keel server` process of a cluster.
pub struct Member {
    /// Its Raft id.
    pub id: u64,
    /// Where it runs.
    pub placement: Placement,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// `--initial-members ...` or `--join ...`, and any further flags.
    args: Vec<String>,
    child: Option<Child>,
}

impl Member {
    fn new(id: u64, placement: Placement, dir: &Path, args: Vec<String>) -> Member {
        Member {
            id,
            placement,
            data_dir: dir.join(format!("member-{id}")),
            args,
            child: None,
        }
    }

    /// Its log file.
    pub fn log(&self) -> PathBuf {
        self.data_dir.with_extension("log")
    }

    /// Starts the process (without waiting for it to serve).
    pub fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())?;
        let keel = keel_binary()?;
        let mut command = match self.placement.wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(&keel);
                c
            }
            None => Command::new(&keel),
        };
        command
            .arg("server")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg(self.placement.api.to_string())
            .arg("--peer-listen")
            .arg(self.placement.peer_listen.to_string())
            .arg("--advertise-peer")
            .arg(self.placement.peer.to_string())
            .arg("--id")
            .arg(self.id.to_string())
            .arg("--no-scheduler")
            .args(&self.args)
            .env("RUST_LOG", "info,openraft=warn")
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(command.spawn().context("starting keel server")?);
        Ok(())
    }

    /// Waits until the API answers `/readyz`.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let (api, log, what) = (
            self.placement.api,
            self.log(),
            format!("member {}", self.id),
        );
        wait_serving(&mut self.child, api, &log, &what, timeout)
    }

    /// Whether its process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) -> Result<()> {
        kill9(&mut self.child)
    }

    /// SIGTERM (a clean shutdown), waiting up to 30 s before SIGKILL.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let start = Instant::now();
            while child.try_wait()?.is_none() {
                if start.elapsed() > Duration::from_secs(30) {
                    child.kill()?;
                    child.wait()?;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Starts it again over the same data and addresses, and waits until it serves.
    pub fn restart(&mut self) -> Result<()> {
        self.kill9()?;
        self.spawn()?;
        self.wait_ready(Duration::from_secs(60))
    }

    /// Kills it, wipes its data and starts it again with `--join seed` (a peer address):
    /// it must rejoin and catch up from the others.
    pub fn wipe_and_rejoin(&mut self, seed: SocketAddr) -> Result<()> {
        self.kill9()?;
        std::fs::remove_dir_all(&self.data_dir)
            .with_context(|| format!("wiping {}", self.data_dir.display()))?;
        let kept: Vec<String> = match self
            .args
            .iter()
            .position(|a| a == "--initial-members" || a == "--join")
        {
            Some(i) => self.args[..i]
                .iter()
                .chain(self.args.iter().skip(i + 2))
                .cloned()
                .collect(),
            None => self.args.clone(),
        };
        self.args = ["--join".to_string(), seed.to_string()]
            .into_iter()
            .chain(kept)
            .collect();
        self.spawn()?;
        self.wait_ready(Duration::from_secs(120))
    }

    /// One request to its API: the status code and the body.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Result<(u16, String)> {
        let (code, _, text) =
            http_to(self.placement.api, method, path, &[], body, REQUEST_TIMEOUT)?;
        Ok((code, text))
    }

    /// A GET on its API.
    pub fn get(&self, path: &str) -> Result<(u16, String)> {
        self.request("GET", path, b"")
    }

    /// Its Raft status (`/raft/status` on its peer listener).
    pub fn status(&self) -> Result<Value> {
        let (code, _, body) = http_to(
            self.placement.admin,
            "GET",
            "/raft/status",
            &[],
            b"",
            REQUEST_TIMEOUT,
        )?;
        if code != 200 {
            bail!("member {}: /raft/status answered {code}: {body}", self.id);
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// The names of the ConfigMaps in `namespace` as this member holds them now, without
    /// asking the leader (`resourceVersion=0`).
    pub fn local_configmaps(&self, namespace: &str) -> Result<Vec<String>> {
        let path = format!("/api/v1/namespaces/{namespace}/configmaps?resourceVersion=0");
        let (code, body) = self.get(&path)?;
        if code != 200 {
            bail!("member {}: listing answered {code}: {body}", self.id);
        }
        let list: Value = serde_json::from_str(&body)?;
        let mut names: Vec<String> = list["items"]
            .as_array()
            .context("a list without items")?
            .iter()
            .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}

/// A cluster of members.
pub struct Cluster {
    /// Its members, by position (member `i` has id `i + 1`).
    pub members: Vec<Member>,
    dir: PathBuf,
}

impl Cluster {
    /// Starts `size` members on loopback with `--initial-members`, waits until all serve,
    /// with `extra` flags for every member.
    pub fn start(dir: &Path, size: usize, extra: &[&str]) -> Result<Cluster> {
        let placements = (0..size)
            .map(|_| Placement::loopback())
            .collect::<Result<Vec<_>>>()?;
        Self::start_at(dir, placements, extra)
    }

    /// Starts one member at each placement with `--initial-members`.
    pub fn start_at(dir: &Path, placements: Vec<Placement>, extra: &[&str]) -> Result<Cluster> {
        let initial = placements
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}={}", i + 1, p.peer))
            .collect::<Vec<_>>()
            .join(",");
        let mut members = Vec::new();
        for (i, placement) in placements.into_iter().enumerate() {
            let mut args = vec!["--initial-members".to_string(), initial.clone()];
            args.extend(extra.iter().map(|s| s.to_string()));
            let mut member = Member::new(i as u64 + 1, placement, dir, args);
            member.spawn()?;
            members.push(member);
        }
        for member in &mut members {
            member.wait_ready(Duration::from_secs(60))?;
        }
        Ok(Cluster {
            members,
            dir: dir.to_path_buf(),
        })
    }

    /// Starts a new member at `placement` that joins through member `seed`, and waits until it
    /// serves (it has been added and caught up). Returns its position.
    pub fn join(&mut self, placement: Placement, seed: usize, extra: &[&str]) -> Result<usize> {
        let id = self.members.iter().map(|m| m.id).max().unwrap_or(0) + 1;
        let mut args = vec![
            "--join".to_string(),
            self.members[seed].placement.peer.to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut member = Member::new(id, placement, &self.dir, args);
        member.spawn()?;
        member.wait_ready(Duration::from_secs(120))?;
        self.members.push(member);
        Ok(self.members.len() - 1)
    }

    /// The position of the member every running member names as leader, once they agree.
    pub fn leader(&self, timeout: Duration) -> Result<usize> {
        let all: Vec<usize> = (0..self.members.len()).collect();
        self.leader_among(&all, timeout)
    }

    /// The position of the member that the running members at `positions` all name as
    /// leader, once they agree (the leader must be one of them).
    pub fn leader_among(&self, positions: &[usize], timeout: Duration) -> Result<usize> {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < timeout {
            let answers: Vec<Result<Value>> = positions
                .iter()
                .map(|i| &self.members[*i])
                .filter(|m| m.is_running())
                .map(Member::status)
                .collect();
            let views: Vec<Option<u64>> = answers
                .iter()
                .map(|a| a.as_ref().ok().and_then(|s| s["leader"].as_u64()))
                .collect();
            if let Some(Some(id)) = views.first()
                && views.iter().all(|v| *v == Some(*id))
                && let Some(i) = self
                    .members
                    .iter()
                    .position(|m| m.id == *id && m.is_running())
            {
                return Ok(i);
            }
            last = answers
                .iter()
                .map(|a| match a {
                    Ok(s) => format!("leader {}", s["leader"]),
                    Err(e) => format!("{e:#}"),
                })
                .collect::<Vec<_>>()
                .join("; ");
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("the members did not agree on a leader within {timeout:?}: {last}")
    }

    /// Waits until every running member has applied the same last log index.
    pub fn converge(&self, timeout: Duration) -> Result<u64> {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < timeout {
            let applied: Vec<Option<u64>> = self
                .members
                .iter()
                .filter(|m| m.is_running())
                .map(|m| m.status().ok().and_then(|s| s["lastApplied"].as_u64()))
                .collect();
            if let Some(Some(first)) = applied.first()
                && applied.iter().all(|a| *a == Some(*first))
            {
                return Ok(*first);
            }
            last = format!("{applied:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("the members did not converge within {timeout:?}: applied {last}")
    }

    /// The voter ids as member `at` sees them.
    pub fn voters(&self, at: usize) -> Result<Vec<u64>> {
        let status = self.members[at].status()?;
        Ok(status["members"]
            .as_array()
            .context("a status without members")?
            .iter()
            .filter(|m| m["voter"].as_bool() == Some(true))
            .filter_map(|m| m["id"].as_u64())
            .collect())
    }
}
