//! The gRPC edge: `c360.search.v1.SearchService` over a [`Search`].
//! Converts between prost and domain types and checks roles; searches run
//! on tokio's blocking pool.

use c360_proto::search::v1 as api;
use c360_proto::search::v1::search_service_server::{SearchService, SearchServiceServer};
use c360_rpc::blocking;
use c360_rpc::{Role, authorize};
use tonic::{Request, Response, Status};

use crate::doc::display_name;
use crate::{Filters, Hit, Search, SearchRequest};

/// Roles that may search.
pub const SEARCH_ROLES: &[Role] = &[Role::Steward, Role::Compliance, Role::App, Role::Service];
/// Roles that may read index statistics.
pub const STATS_ROLES: &[Role] = &[Role::Steward, Role::Compliance, Role::Service];

/// Roles that see display names in clear; others get masked surnames.
fn sees_names(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Steward | Role::Compliance)
}

/// A hit as `role` may see it: the one place where a hit's personal
/// values (name, birth year, locality, phone ending) leave the service.
fn shown(hit: Hit, role: Role) -> api::SearchHit {
    let p = &hit.person;
    api::SearchHit {
        display_name: display_name(&p.surname, &p.given, !sees_names(role)),
        birth_year: p.birth_year.map_or(0, u32::from),
        locality: p.locality.clone(),
        phone_ending: p.phone_ending.clone(),
        matched_fields: hit.matched_fields.iter().map(|f| f.to_string()).collect(),
        client_number: hit.client_number,
        score: hit.score,
        sector: hit.sector,
    }
}

#[derive(Debug, Clone)]
pub struct SearchGrpc {
    search: Search,
}

impl SearchGrpc {
    pub fn new(search: Search) -> Self {
        SearchGrpc { search }
    }

    pub fn into_server(self) -> SearchServiceServer<Self> {
        SearchServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl SearchService for SearchGrpc {
    async fn search(
        &self,
        request: Request<api::SearchRequest>,
    ) -> Result<Response<api::SearchResponse>, Status> {
        let caller = authorize(&request, SEARCH_ROLES)?;
        let req = request.into_inner();
        let filters = req.filters.unwrap_or_default();
        let request = SearchRequest {
            query: req.query,
            filters: Filters {
                regions: filters.regions,
                sectors: filters.sectors,
                source_systems: filters.source_systems,
            },
            page_size: req.page_size as usize,
            page_token: req.page_token,
        };
        let search = self.search.clone();
        let page = blocking(move || search.search(&request)).await?;
        Ok(Response::new(api::SearchResponse {
            hits: page
                .hits
                .into_iter()
                .map(|h| shown(h, caller.role))
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_index_stats(
        &self,
        request: Request<api::GetIndexStatsRequest>,
    ) -> Result<Response<api::GetIndexStatsResponse>, Status> {
        authorize(&request, STATS_ROLES)?;
        let search = self.search.clone();
        let s = blocking(move || crate::Result::Ok(search.stats())).await?;
        Ok(Response::new(api::GetIndexStatsResponse {
            clients: s.clients,
            segments: s.segments,
            applied_offset: s.applied_offset,
            committed_offset: s.committed_offset,
            disk_bytes: s.disk_bytes,
            decrypted_bytes: s.decrypted_bytes,
        }))
    }

    async fn reindex(
        &self,
        request: Request<api::ReindexRequest>,
    ) -> Result<Response<api::ReindexResponse>, Status> {
        let caller = authorize(&request, &[])?;
        tracing::info!(caller = %caller.id, "search reindex requested");
        let search = self.search.clone();
        blocking(move || search.reset()).await?;
        Ok(Response::new(api::ReindexResponse {}))
    }
}
