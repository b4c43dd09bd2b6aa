//! The gRPC edge: `c360.search.v1.SearchService` over a [`Search`].
//! Converts between prost and domain types and checks roles; searches run
//! on tokio's blocking pool.

use c360_proto::search::v1 as api;
use c360_proto::search::v1::search_service_server::{SearchService, SearchServiceServer};
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::blocking;
use c360_rpc::{Access, Disclosure, Grant, PeerChannel, Role, authorize};
use tonic::{Request, Response, Status};

use crate::doc::display_name;
use crate::{Error, Filters, Hit, Search, SearchRequest};

/// Longest purpose accepted.
const MAX_PURPOSE_BYTES: usize = 64;

/// Roles that may search.
pub const SEARCH_ROLES: &[Role] = &[Role::Steward, Role::Compliance, Role::App, Role::Service];
/// Roles that may read index statistics.
pub const STATS_ROLES: &[Role] = &[Role::Steward, Role::Compliance, Role::Service];

/// The personal fields a hit shows, by the policy's names.
const HIT_FIELDS: &[&str] = &[
    "surname",
    "given_name",
    "date_of_birth",
    "locality",
    "phone",
];

/// A hit as the vault's policy lets the caller see it: the one place where
/// a hit's personal values (name, birth year, locality, phone ending)
/// leave the service. A masked birth date or phone still shows the year or
/// the last two digits.
fn shown(hit: Hit, grant: &Grant) -> api::SearchHit {
    let p = &hit.person;
    let surname = match grant.access("surname") {
        Access::Withheld => "",
        _ => p.surname.as_str(),
    };
    let given = grant.show("given_name", &p.given);
    api::SearchHit {
        display_name: display_name(surname, &given, grant.access("surname") == Access::Masked),
        birth_year: match grant.shows("date_of_birth") {
            true => p.birth_year.map_or(0, u32::from),
            false => 0,
        },
        locality: grant.show("locality", &p.locality),
        phone_ending: match grant.shows("phone") {
            true => p.phone_ending.clone(),
            false => String::new(),
        },
        matched_fields: hit.matched_fields.iter().map(|f| f.to_string()).collect(),
        client_number: hit.client_number,
        score: hit.score,
        sector: hit.sector,
    }
}

/// The fields shown as `access` in at least one grant.
fn limited(grants: &[Grant], access: Access) -> Vec<String> {
    let mut out: Vec<String> = grants.iter().flat_map(|g| g.limited(access)).collect();
    out.sort();
    out.dedup();
    out
}

#[derive(Debug, Clone)]
pub struct SearchGrpc {
    search: Search,
    disclosure: Disclosure,
}

impl SearchGrpc {
    /// Without a vault, hits show no personal value.
    pub fn new(search: Search) -> Self {
        SearchGrpc {
            search,
            disclosure: Disclosure::default(),
        }
    }

    /// The vault that decides (and logs) what hits disclose, called as
    /// search's peer identity.
    pub fn with_vault(mut self, vault: Option<VaultServiceClient<PeerChannel>>) -> Self {
        self.disclosure = Disclosure::new(vault);
        self
    }

    pub fn into_server(self) -> SearchServiceServer<Self> {
        SearchServiceServer::new(self)
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        c360_rpc::status_of(&err)
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
        if req.purpose.len() > MAX_PURPOSE_BYTES {
            return Err(c360_rpc::invalid_argument("purpose", "is too long"));
        }
        if caller.peer.is_none() && req.purpose.is_empty() {
            return Err(c360_rpc::invalid_argument(
                "purpose",
                "is required to read personal values (service, stewardship, audit, ...)",
            ));
        }
        let search = self.search.clone();
        let page = blocking(move || search.search(&request)).await?;
        let numbers: Vec<String> = page.hits.iter().map(|h| h.client_number.clone()).collect();
        let grants = self
            .disclosure
            .grants(&caller, &req.purpose, "search.Search", &numbers, HIT_FIELDS)
            .await?;
        if grants.len() != numbers.len() {
            return Err(Status::internal(
                "the vault answered for other clients than asked",
            ));
        }
        Ok(Response::new(api::SearchResponse {
            masked_fields: limited(&grants, Access::Masked),
            withheld_fields: limited(&grants, Access::Withheld),
            hits: page
                .hits
                .into_iter()
                .zip(&grants)
                .map(|(h, g)| shown(h, g))
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

impl crate::Search {
    /// The gRPC service; `vault` decides what hits disclose (none without
    /// one).
    pub fn grpc(
        &self,
        vault: Option<
            c360_proto::vault::v1::vault_service_client::VaultServiceClient<c360_rpc::PeerChannel>,
        >,
    ) -> c360_proto::search::v1::search_service_server::SearchServiceServer<SearchGrpc> {
        SearchGrpc::new(self.clone())
            .with_vault(vault)
            .into_server()
    }
}
