use clap::Parser;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let config = api::Config::parse();
    // Flushes the last log lines when main returns.
    let _logs = api::telemetry::init(config.log_format);
    if let Some(api::config::Command::Keys(command)) = &config.command {
        return api::cli::run_keys(&config, command).await;
    }
    let app = api::Application::build(config).await?;
    let address = app.address();
    if let Some(key) = app.bootstrap_key() {
        println!(
            "\nNo API key existed, so one was created for organization 1. It is shown only this once; keep it:\n\n    \
             {key}\n\nTry it:  curl -H 'Authorization: Bearer {key}' http://{address}/api/v1/clients\n"
        );
    }
    tracing::info!(
        "listening on http://{address} (Swagger UI at /swagger-ui/, metrics at /metrics)"
    );
    app.run().await?;
    tracing::info!("stopped");
    Ok(())
}
