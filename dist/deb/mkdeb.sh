#!/bin/sh
# `make deb`: watchmesh_VERSION_ARCH.deb from this tree, with dpkg-deb.
# usage: dist/deb/mkdeb.sh BUILD_DIR OUT_DIR [ARCH]
# BUILD_DIR is a meson build configured with --prefix=/usr (the Makefile
# makes one); its `meson install` into a staging folder is the package's
# content, plus what Debian wants of every package (the copyright file, a
# changelog, compressed manuals) and the control file, whose Depends
# dpkg-shlibdeps reads off the binary.
set -eu
build=$1
out=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

meson install -C "$build" --destdir "$stage/root" --strip --quiet >&2
root=$stage/root
version=$(meson introspect --projectinfo "$build" | sed -n 's/.*"version": *"\([^"]*\)".*/\1/p')
arch=${3:-$(dpkg --print-architecture)}

# the packager, as dch finds them
maint="${DEBFULLNAME:-$(git -C "$src" config user.name || true)} <${DEBEMAIL:-$(git -C "$src" config user.email || true)}>"
case "$maint" in
" <"*|*"<>") echo "mkdeb: say who packages it: DEBFULLNAME='Your Name' DEBEMAIL=you@example.org make deb" >&2; exit 1 ;;
esac

doc=$root/usr/share/doc/watchmesh
mkdir -p "$doc"
{
	echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
	echo "Upstream-Name: watchmesh"
	echo
	echo "Files: *"
	echo "Copyright: the watchmesh developers"
	echo "License: MIT"
	sed 's/^$/./; s/^/ /' "$src/LICENSE"
} > "$doc/copyright"
printf 'watchmesh (%s) unstable; urgency=medium\n\n  * Built from the watchmesh tree (README.md, git log).\n\n -- %s  %s\n' \
	"$version" "$maint" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}")" \
	| gzip -9n > "$doc/changelog.gz"
find "$root/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +
# a page that is another's (watchmesh-restore.1) links to it compressed
find "$root/usr/share/man" -type l -name '*.[0-9]' | while read -r l; do
	ln -s "$(readlink "$l").gz" "$l.gz" && rm "$l"
done

# Depends: the packages of the shared libraries the binary links, as
# dpkg-shlibdeps finds them (it wants a debian/control beside it)
mkdir -p "$stage/src/debian"
printf 'Source: watchmesh\n\nPackage: watchmesh\nArchitecture: any\n' > "$stage/src/debian/control"
depends=$(cd "$stage/src" && DEB_HOST_ARCH=$arch dpkg-shlibdeps -O "$root/usr/bin/watchmesh" 2>/dev/null \
	| sed -n 's/^shlibs:Depends=//p')
if [ -z "$depends" ]; then
	echo "mkdeb: dpkg-shlibdeps found no libraries for usr/bin/watchmesh" >&2
	exit 1
fi

mkdir -p "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
	-e "s|@MAINTAINER@|$maint|" \
	"$src/dist/deb/control.in" > "$root/DEBIAN/control"
install -m 755 "$src/dist/deb/postinst" "$src/dist/deb/prerm" "$src/dist/deb/postrm" "$root/DEBIAN/"
(cd "$root" && find usr -type f -exec md5sum {} +) > "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/watchmesh_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
