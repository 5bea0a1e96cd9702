#!/bin/sh
# Images for docker-compose.yml without Docker Hub, from Debian's packages only:
#   local/debian:bookworm    debootstrap of Debian 12 (minbase), imported with `docker import`
#   local/python:bookworm    Python 3.11 + pip (stands in for python:3.11-slim-bookworm)
#   local/postgres:bookworm  PostgreSQL 15 (stands in for postgres:16: same variables, data
#                            folder and pg_isready)
#   local/nginx:bookworm     nginx 1.22 (stands in for nginx:1.27)
# Needs root, debootstrap and a Docker daemon; reaches deb.debian.org (and PyPI when the app
# image is built). Then, from the repository's top folder:
#   docker compose -f docker-compose.yml -f deploy/local-images/compose.yml up -d --build
#
# Certificate authorities added on this host (/usr/local/share/ca-certificates/*.crt, e.g. a
# company proxy that intercepts TLS) are copied into the base image, so pip in the build
# trusts what the host trusts.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d "${TMPDIR:-/tmp}/judge-rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT

debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" "$mirror"
cat > "$work/rootfs/etc/apt/sources.list" <<LIST
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
LIST
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    cp /usr/local/share/ca-certificates/*.crt "$work/rootfs/usr/local/share/ca-certificates/"
    chroot "$work/rootfs" update-ca-certificates >/dev/null
fi
rm -rf "$work/rootfs/var/cache/apt/archives"/*.deb "$work/rootfs/var/lib/apt/lists"/*
tar -C "$work/rootfs" -c . | docker import - local/debian:bookworm

for image in python postgres nginx; do
    docker build -t "local/$image:bookworm" -f "$here/$image.Dockerfile" "$here"
done
