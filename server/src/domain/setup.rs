//! What a server makes once, at its first start, and checks at every
//! start: the agents' CA, the first admin token, and whether the rules
//! packages changed since the last start (then the fleet is
//! re-evaluated). Each is made in a locked transaction, so replicas
//! starting at once make one.

use super::auth;
use super::eval;
use crate::keys::{Ca, Key};
use crate::store::{jobs, outbox, state, tokens, Store};
use assay_api::Role;
use assay_model::bundle::Bundle;
use assay_model::hex;

type Result<T> = std::result::Result<T, String>;

fn db(e: sqlx::Error) -> String {
    e.to_string()
}

/// The database's CA, made at the first start.
pub(crate) async fn ca(store: &Store, master: &Key) -> Result<Ca> {
    let mut tx = store.write().await.map_err(db)?;
    state::lock(&mut tx, store.backend()).await.map_err(db)?;
    let name = state::get(&mut tx, state::Entry::CaName).await.map_err(db)?;
    if let Some(name) = name {
        let cert = state::get(&mut tx, state::Entry::CaCert).await.map_err(db)?;
        let key = state::get(&mut tx, state::Entry::CaKey).await.map_err(db)?;
        let (Some(cert), Some(key)) = (cert, key) else {
            return Err("the database has a CA name but not its certificate and key".into());
        };
        let sealed = hex::decode(&key).ok_or("the CA key in the database is not hex")?;
        let key_pem = master.open(&sealed, b"assay/ca-key").map_err(|e| {
            format!("the agents' CA key: {e}; is this the master key of the server that made the database?")
        })?;
        return Ca::from_parts(&name, cert, &String::from_utf8_lossy(&key_pem));
    }
    let (ca, [name, cert, key_pem]) = Ca::create()?;
    let sealed = master.seal(key_pem.as_bytes(), b"assay/ca-key");
    state::set(&mut tx, state::Entry::CaName, &name).await.map_err(db)?;
    state::set(&mut tx, state::Entry::CaCert, &cert).await.map_err(db)?;
    state::set(&mut tx, state::Entry::CaKey, &hex::encode(&sealed)).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(ca)
}

/// The first admin token, when the database has no token at all.
pub(crate) async fn first_token(store: &Store) -> Result<Option<String>> {
    let mut tx = store.write().await.map_err(db)?;
    state::lock(&mut tx, store.backend()).await.map_err(db)?;
    if tokens::any(&mut tx).await.map_err(db)? {
        return Ok(None);
    }
    let (_, token) = auth::mint(&mut tx, Role::Admin, "first admin", None).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(Some(token))
}

/// Ends the leases of jobs and notifications at once, for a server that
/// holds its database alone ([`crate::alone`]): their holder was this
/// server, killed, and waiting out the lease (2 minutes) helps nobody.
pub(crate) async fn reclaim_leases(store: &Store) -> Result<u64> {
    let mut tx = store.write().await.map_err(db)?;
    let jobs = jobs::release_leases(&mut tx).await.map_err(db)?;
    let notices = outbox::release_leases(&mut tx, crate::ids::now()).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(jobs + notices)
}

/// Queues the re-evaluation of the fleet when the rules packages differ
/// from those of the last start (an upgrade of assay).
/// Publishes the built-in packages as the server's own (domain::packages).
pub(crate) async fn builtin_packages(store: &Store, bundle: &Bundle) -> std::result::Result<(), String> {
    super::packages::register_builtins(store, bundle).await.map_err(|e| format!("{e:?}"))
}

pub(crate) async fn rules_changed(store: &Store, bundle: &Bundle) -> Result<()> {
    let mut tx = store.write().await.map_err(db)?;
    let last = state::get(&mut tx, state::Entry::BundleDigest).await.map_err(db)?;
    if last.as_deref() != Some(bundle.digest.as_str()) {
        if last.is_some() {
            let cause = format!("rules packages updated (bundle {})", &bundle.digest[..16]);
            eval::queue_reevaluation(&mut tx, &cause).await.map_err(db)?;
        }
        state::set(&mut tx, state::Entry::BundleDigest, &bundle.digest).await.map_err(db)?;
    }
    tx.commit().await.map_err(db)
}

/// Mints an API token straight in the database (`assay server
/// admin-token`): whoever can open the data directory is an admin.
pub(crate) async fn mint_token(store: &Store, role: Role, name: &str) -> Result<String> {
    let mut tx = store.write().await.map_err(db)?;
    let (id, token) = auth::mint(&mut tx, role, name, None).await.map_err(db)?;
    let detail = serde_json::json!({ "id": id, "role": role });
    crate::store::audit::insert(&mut tx, crate::ids::now(), "server admin-token", "token.create", &detail)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(token)
}
