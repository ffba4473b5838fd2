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
    let bind = config.bind.clone();
    let app = api::Application::build(config).await?;
    tracing::info!("listening on http://{bind} (Swagger UI at /swagger-ui/)");
    app.run().await?;
    Ok(())
}
