//! `Command::Atomic`: every precondition is checked before anything is written; a
//! refused companion write leaves nothing behind, and the refusal names it.

use keel::store::{Command, Outcome};

use super::server;

fn create(key: &str) -> Command {
    Command::Create {
        key: key.into(),
        object: format!("{{\"metadata\":{{\"name\":\"{key}\"}}}}"),
    }
}

fn update(key: &str, expected_revision: u64) -> Command {
    Command::Update {
        key: key.into(),
        object: format!("{{\"metadata\":{{\"name\":\"{key}\"}},\"status\":{{\"n\":1}}}}"),
        expected_revision: Some(expected_revision),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_writes_apply_all_or_nothing() {
    let (_dir, server) = server().await;
    let store = server.running.objects.store().clone();
    let write = |c: Command| {
        let store = store.clone();
        async move { store.write(c).await.unwrap_or_else(|e| panic!("{e}")) }
    };
    let Outcome::Applied {
        revision: quota_rev,
        ..
    } = write(create("t/quota")).await
    else {
        panic!("create quota")
    };

    // A companion guarded by a stale revision: nothing is written.
    let refused = write(Command::Atomic {
        commands: vec![create("t/pod-1"), update("t/quota", quota_rev + 100)],
    })
    .await;
    assert!(
        matches!(&refused, Outcome::Refused { key, outcome } if key == "t/quota" && matches!(**outcome, Outcome::Conflict { .. })),
        "{refused:?}"
    );
    assert!(
        store.get("t/pod-1").unwrap_or(None).is_none(),
        "the first write was kept"
    );

    // Guarded by the current revision: both are written, at consecutive revisions.
    let before = store.revision();
    let applied = write(Command::Atomic {
        commands: vec![create("t/pod-1"), update("t/quota", quota_rev)],
    })
    .await;
    let Outcome::Applied { revision, .. } = applied else {
        panic!("{applied:?}")
    };
    assert_eq!(
        revision,
        before + 1,
        "the first command's outcome is answered"
    );
    assert_eq!(store.revision(), before + 2, "both commands got a revision");
    let quota = store.get("t/quota").unwrap_or(None);
    assert!(quota.is_some_and(|q| q.revision == before + 2));

    // The first command's own failure is reported as itself.
    let exists = write(Command::Atomic {
        commands: vec![create("t/pod-1"), update("t/quota", before + 2)],
    })
    .await;
    assert_eq!(exists, Outcome::AlreadyExists);
    assert_eq!(store.revision(), before + 2, "nothing was written");

    // The same key twice, an empty list, and nesting are refused.
    for bad in [
        vec![create("t/x"), update("t/x", 1)],
        vec![],
        vec![Command::Atomic {
            commands: vec![create("t/y")],
        }],
    ] {
        let out = write(Command::Atomic { commands: bad }).await;
        assert!(matches!(out, Outcome::Invalid(_)), "{out:?}");
    }
    assert!(store.get("t/y").unwrap_or(None).is_none());
}
