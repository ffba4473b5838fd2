use clap::Parser;
use tracing_subscriber::EnvFilter;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = api::Config::parse();
    if let Some(api::config::Command::Keys(command)) = &config.command {
        return api::cli::run_keys(&config, command);
    }
    let bind = config.bind.clone();
    let app = api::Application::build(config).await?;
    if let Some(key) = app.bootstrap_key() {
        println!(
            "\nNo API key existed, so one was created for organization 1. It is shown only this once; keep it:\n\n    \
             {key}\n\nTry it:  curl -H 'Authorization: Bearer {key}' http://{bind}/api/v1/clients\n"
        );
    }
    tracing::info!("listening on http://{bind} (Swagger UI at /swagger-ui/)");
    app.run().await?;
    Ok(())
}
