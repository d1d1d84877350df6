//! `keel member`: list, add and remove the members of a cluster, through any
//! member's peer listener (changes are handed to the leader and made one at a
//! time through Raft).

use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use http::Method;
use keel::store::membership::CATCH_UP_DEADLINE;
use keel::store::peer::client::Peers;
use keel::store::peer::wire::{self, AddMember, Member, Status};

#[derive(Subcommand)]
pub enum MemberCommand {
    /// List the members, their roles and the leader.
    Ls,
    /// Add a member (running, started with `--join` or not yet in any cluster): it joins
    /// as a learner, catches up, then votes.
    Add {
        /// Its id, unique in the cluster.
        id: u64,
        /// Its peer address (HOST:PORT).
        address: String,
    },
    /// Remove a member.
    Remove {
        /// Its id.
        id: u64,
    },
}

pub async fn run(peer: &str, command: MemberCommand) -> anyhow::Result<()> {
    let peers = Peers::new();
    let deadline = CATCH_UP_DEADLINE + Duration::from_secs(30);
    let exchange = |method: Method, path: String, body: Vec<u8>| {
        let peers = peers.clone();
        async move {
            peers
                .exchange(method, peer, &path, body, "application/json", deadline)
                .await
                .with_context(|| format!("asking the member at {peer}"))
        }
    };
    let members: Vec<Member> = match command {
        MemberCommand::Ls => {
            let bytes = exchange(Method::GET, wire::STATUS.into(), Vec::new()).await?;
            let status: Status =
                serde_json::from_slice(&bytes).context("reading the member's status")?;
            print_members(&status.members, status.leader);
            return Ok(());
        }
        MemberCommand::Add { id, address } => {
            let body = serde_json::to_vec(&AddMember {
                id,
                address,
                fresh: false,
            })?;
            let bytes = exchange(Method::POST, wire::MEMBERS.into(), body).await?;
            serde_json::from_slice(&bytes).context("reading the new membership")?
        }
        MemberCommand::Remove { id } => {
            let path = format!("{}/{id}", wire::MEMBERS);
            let bytes = exchange(Method::DELETE, path, Vec::new()).await?;
            serde_json::from_slice(&bytes).context("reading the new membership")?
        }
    };
    print_members(&members, None);
    Ok(())
}

fn print_members(members: &[Member], leader: Option<u64>) {
    println!("{:<6} {:<24} {:<8} LEADER", "ID", "ADDRESS", "ROLE");
    for m in members {
        let role = if m.voter { "voter" } else { "learner" };
        let leading = if leader == Some(m.id) { "*" } else { "" };
        println!("{:<6} {:<24} {:<8} {leading}", m.id, m.address, role);
    }
}
