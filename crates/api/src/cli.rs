//! `clients-api keys ...`: API key management from the command line.

use anyhow::{bail, Context};
use chrono::Utc;
use store::Store;

use crate::auth::create_key;
use crate::config::{Config, KeysCommand};

pub async fn run_keys(config: &Config, command: &KeysCommand) -> anyhow::Result<()> {
    let store_config = store::StoreConfig {
        pool_size: 1,
        ..config.store()
    };
    let store = Store::open(&store_config)
        .await
        .context("cannot open the database")?;
    match command {
        KeysCommand::Create {
            name,
            organization_id,
            admin,
        } => {
            let organization_id = if *admin { None } else { *organization_id };
            let (key, secret) = create_key(&store, organization_id, name, Utc::now()).await?;
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
            for key in store.list_api_keys().await? {
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
            if !store.revoke_api_key(*id, Utc::now()).await? {
                bail!("no live key with id {id}");
            }
            println!("Revoked key {id}.");
        }
    }
    Ok(())
}
