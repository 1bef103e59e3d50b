//! Server reflection, so that grpcurl, grpcui, Postman and grpcio-reflection can list and call a
//! role without the proto files: both `grpc.reflection.v1` and the older `v1alpha` that most of
//! those tools still ask for, each advertising only what the role serves (a partner node must
//! not list `AnalystService`, which it would answer with UNIMPLEMENTED).

use tonic_reflection::server::{v1, v1alpha, Builder, Error};

/// The reflection services of a role serving `names` (full service names, e.g.
/// `signaalnet.v1.PartnerService`, with `RoleService` and `grpc.health.v1.Health`).
pub fn services(
    names: &[&str],
) -> Result<
    (
        v1::ServerReflectionServer<impl v1::ServerReflection>,
        v1alpha::ServerReflectionServer<impl v1alpha::ServerReflection>,
    ),
    Error,
> {
    let v1 = advertising(names)
        .with_service_name("grpc.reflection.v1.ServerReflection")
        .build_v1()?;
    let v1alpha = advertising(names)
        .with_service_name("grpc.reflection.v1alpha.ServerReflection")
        .build_v1alpha()?;
    Ok((v1, v1alpha))
}

/// Every descriptor a role's messages use, and a list of `names` only.
fn advertising(names: &[&str]) -> Builder<'static> {
    names.iter().fold(
        Builder::configure()
            .register_encoded_file_descriptor_set(signaalnet_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
        |builder, name| builder.with_service_name(*name),
    )
}
