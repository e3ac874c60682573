//! The labs that teach what an event is about (lab ids of `labs/`, as the curriculum names them).

pub const FIRST_CONTAINER: &str = "first-container";
pub const IMAGES_AND_LAYERS: &str = "images-and-layers";
pub const DOCKERFILE_DONE_RIGHT: &str = "dockerfile-done-right";
pub const VOLUMES: &str = "volumes-and-bind-mounts";
pub const NETWORKS: &str = "networks-and-dns";
pub const PUBLISHING_PORTS: &str = "publishing-ports";
pub const REGISTRIES: &str = "registries";
pub const SECURITY_BASICS: &str = "security-basics";

/// Every lab id an explanation may name.
pub const ALL: [&str; 8] = [
    FIRST_CONTAINER,
    IMAGES_AND_LAYERS,
    DOCKERFILE_DONE_RIGHT,
    VOLUMES,
    NETWORKS,
    PUBLISHING_PORTS,
    REGISTRIES,
    SECURITY_BASICS,
];
