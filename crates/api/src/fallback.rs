//! What a request that matched no route gets: `405` with `Allow` when its path exists with other
//! methods, `404` otherwise. The paths and methods are read from the OpenAPI document, which is
//! generated from the routes themselves.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::problem::{ApiError, ErrorCode};

/// Every documented path template with its methods.
pub struct Routes(Vec<(Vec<String>, Vec<Method>)>);

impl Routes {
    pub fn from_spec(spec: &utoipa::openapi::OpenApi) -> Self {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path.split('/').map(str::to_owned).collect();
                // HEAD goes wherever GET does (the middleware routes it as GET).
                let methods = [
                    (Method::GET, item.get.is_some()),
                    (Method::HEAD, item.get.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, documented)| documented.then_some(method))
                .collect();
                (segments, methods)
            })
            .collect();
        Routes(routes)
    }

    /// The methods of the route templates that `path` matches, the most specific ones only:
    /// `/api/v1/clients/person` is the registration path, not a client id.
    pub fn allowed(&self, path: &str) -> Vec<Method> {
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, Vec<Method>)> = None;
        for (template, methods) in &self.0 {
            if template.len() != segments.len() {
                continue;
            }
            let mut literal = 0;
            let matches = template.iter().zip(&segments).all(|(t, s)| {
                let is_param = t.starts_with('{') && t.ends_with('}');
                literal += usize::from(!is_param);
                t == s || (is_param && !s.is_empty())
            });
            if !matches {
                continue;
            }
            match &mut best {
                Some((most, found)) if *most == literal => {
                    for method in methods {
                        if !found.contains(method) {
                            found.push(method.clone());
                        }
                    }
                }
                Some((most, _)) if *most > literal => {}
                _ => best = Some((literal, methods.clone())),
            }
        }
        best.map(|(_, methods)| methods).unwrap_or_default()
    }
}

/// `405` when the request's path is, most specifically, a route without its method; `None`
/// when the path is no route at all or has the method. Also asked when a path parameter does not
/// parse: `GET /api/v1/clients/person` is the registration path with the wrong method, not a
/// client id that is not a UUID.
pub fn method_not_allowed(req: &HttpRequest) -> Option<ApiError> {
    let routes = req.app_data::<web::Data<Routes>>()?;
    let allowed = routes.allowed(req.path());
    if allowed.is_empty() || allowed.contains(req.method()) {
        return None;
    }
    let list = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    Some(ApiError {
        allow: Some(list.as_str().into()),
        ..ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{} is not allowed here; allowed: {list}.", req.method()),
        )
    })
}

pub async fn unmatched(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(method_not_allowed(&req)
        .unwrap_or_else(|| ApiError::new(ErrorCode::NotFound, "No resource exists at this path.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_templates_only() {
        let routes = Routes::from_spec(&crate::openapi::spec());
        let get = vec![Method::GET, Method::HEAD];
        assert_eq!(routes.allowed("/api/v1/clients/abc"), get);
        assert_eq!(
            routes.allowed("/api/v1/clients/person/abc"),
            vec![Method::PUT]
        );
        assert_eq!(routes.allowed("/api/v1/clients"), get);
        assert!(routes.allowed("/api/v1/clients/a/b/c").is_empty());
        assert!(routes.allowed("/api/v1/clients//history").is_empty());
        assert!(routes.allowed("/nowhere").is_empty());
    }
}
