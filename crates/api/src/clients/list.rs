//! `GET /api/v1/clients`: list the organization's clients.

use actix_web::http::header;
use actix_web::web;
use actix_web::{get, HttpRequest, HttpResponse};
use domain::{KycStatus, RiskLevel};
use serde::Deserialize;
use store::{ListFilter, Scope, Store};
use utoipa::IntoParams;

use super::ClientWithPerson;
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::query::{param, PageParams, Param, Query};

/// Filters of the client list; each one given narrows it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListFilters {
    /// Only clients with this KYC status.
    #[param(value_type = Option<KycStatus>)]
    kyc_status: Param<KycStatus>,
    /// Only clients with this risk level.
    #[param(value_type = Option<RiskLevel>)]
    risk_level: Param<RiskLevel>,
    /// Only blacklisted (`true`) or not blacklisted (`false`) clients.
    #[param(value_type = Option<bool>)]
    is_blacklisted: Param<bool>,
    /// Only blocked (`true`) or not blocked (`false`) clients.
    #[param(value_type = Option<bool>)]
    blocked: Param<bool>,
}

/// The organization to list, a filter of admin keys only.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrganizationFilter {
    /// Admin keys only: only the clients of this organization (default: all organizations).
    /// Organization keys always list their own organization and may not send it.
    #[param(value_type = Option<i32>, format = Int32)]
    organization_id: Param<i32>,
}

impl ListFilters {
    fn read(query: &mut Query) -> ListFilter {
        let filters: Self = query.read();
        ListFilter {
            kyc_status: param!(query, filters.kyc_status),
            risk_level: param!(query, filters.risk_level),
            is_blacklisted: param!(query, filters.is_blacklisted),
            blocked: param!(query, filters.blocked),
        }
    }
}

impl OrganizationFilter {
    /// The organizations a caller lists: an organization key its own, and for any other key the
    /// parameter does not exist; an admin key every one, or the one it names.
    fn read(query: &mut Query, caller: &Caller) -> Scope {
        match caller.scope() {
            Scope::All => {
                let filter: Self = query.read();
                param!(query, filter.organization_id).map_or(Scope::All, Scope::Organization)
            }
            own => own,
        }
    }
}

/// The filters as query parameters, for the next page's link.
fn filter_params(
    scope: Scope,
    filter: &ListFilter,
    caller: &Caller,
) -> Vec<(&'static str, String)> {
    let mut params = Vec::new();
    if let (true, Scope::Organization(id)) = (caller.is_admin(), scope) {
        params.push(("organization_id", id.to_string()));
    }
    if let Some(v) = filter.kyc_status {
        params.push(("kyc_status", v.as_str().to_owned()));
    }
    if let Some(v) = filter.risk_level {
        params.push(("risk_level", v.as_str().to_owned()));
    }
    if let Some(v) = filter.is_blacklisted {
        params.push(("is_blacklisted", v.to_string()));
    }
    if let Some(v) = filter.blocked {
        params.push(("blocked", v.to_string()));
    }
    params
}

/// List clients
///
/// The clients of your organization (with an admin key: of every organization, or of the one
/// named by `organization_id`), oldest registration first, as a bare JSON array. New
/// registrations sort last, so paging through the unfiltered list never skips or repeats a
/// client. When more remain, the `Link` header has the next page (`rel="next"`), with the same
/// filters.
///
/// An unknown parameter or a bad value is a `400 invalid_parameter` naming it.
#[utoipa::path(
    operation_id = "listClients",
    tag = "Clients",
    params(PageParams, ListFilters, OrganizationFilter),
    responses(
        (status = 200, description = "A page of clients", body = Vec<ClientWithPerson>,
            headers(("Link" = String, description = "`<...>; rel=\"next\"` when more clients remain"))),
        (status = 400, description = "A bad or unknown query parameter (`invalid_parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/clients")]
pub async fn list_clients(
    caller: Caller,
    req: HttpRequest,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let mut query = Query::parse(&req)?;
    let page = PageParams::read(&mut query);
    let filter = ListFilters::read(&mut query);
    let scope = OrganizationFilter::read(&mut query, &caller);
    query.finish()?;
    let (clients, more) = store.list(scope, filter, page.limit, page.offset).await?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if more {
        response.insert_header((
            header::LINK,
            page.next_link(req.path(), &filter_params(scope, &filter, &caller)),
        ));
    }
    Ok(response.json(
        clients
            .into_iter()
            .map(ClientWithPerson::from)
            .collect::<Vec<_>>(),
    ))
}
