//! `clients-api keys ...`: API key management from the command line.

use anyhow::{bail, Context};
use chrono::Utc;
use store::Store;

use crate::auth::create_key;
use crate::config::{Config, KeysCommand};

pub fn run_keys(config: &Config, command: &KeysCommand) -> anyhow::Result<()> {
    // One connection, opened while the pool is built: no pool thread is still connecting when
    // the process exits (exiting during a libpq connect in another thread can crash).
    let store_config = store::StoreConfig {
        pool_size: 1,
        ..config.store()
    };
    let store = Store::open(&store_config).context("cannot open the database")?;
    match command {
        KeysCommand::Create {
            name,
            organization_id,
            admin,
        } => {
            let organization_id = if *admin { None } else { *organization_id };
            let (key, secret) = create_key(&store, organization_id, name, Utc::now())?;
            let scope = organization_id.map_or("every organization (admin)".to_owned(), |o| {
                format!("organization {o}")
            });
            println!("Created key {} ({name}) for {scope}. It is shown only now; store it safely:\n\n    {secret}\n", key.id);
        }
        KeysCommand::List => {
            println!(
                "{:<36}  {:<12}  {:<24}  {:<20}  {:<20}  revoked",
                "id", "organization", "name", "created", "last used"
            );
            for key in store.list_api_keys()? {
                let time = |t: Option<chrono::DateTime<Utc>>| {
                    t.map_or("-".to_owned(), |t| {
                        t.format("%Y-%m-%d %H:%M:%S").to_string()
                    })
                };
                println!(
                    "{:<36}  {:<12}  {:<24}  {:<20}  {:<20}  {}",
                    key.id,
                    key.organization_id
                        .map_or("admin".to_owned(), |o| o.to_string()),
                    key.name,
                    time(Some(key.created_at)),
                    time(key.last_used_at),
                    time(key.revoked_at),
                );
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_api_key(*id, Utc::now())? {
                bail!("no live key with id {id}");
            }
            println!("Revoked key {id}.");
        }
    }
    Ok(())
}
