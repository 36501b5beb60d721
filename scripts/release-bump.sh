#!/usr/bin/env bash
# Prepares a release (RELEASING.md): every module of the repository requires
# its siblings at VERSION and go.work replaces them at VERSION with this
# checkout; then the workspace must build and vet, and the publish check must
# install the modules, packed at VERSION, as a user gets them. Modules are
# found from their go.mod files (those marked "// logtoguard:unpublished" are
# bumped but never tagged). Prints the tags to push, in order.
#
#   scripts/release-bump.sh v0.2.0
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/release-bump.sh vX.Y.Z}
GO=${GO:-go}

publishcheck() { (cd internal/publishcheck && "$GO" run . -root ../.. "$@"); }

publishcheck -bump "$version"
for m in $(find . -name go.mod -not -path '*/node_modules/*' -exec dirname {} \; | sort); do
	echo "go build + vet $m"
	(cd "$m" && "$GO" build -o /dev/null ./... && "$GO" vet ./...)
done
publishcheck -version "$version"
echo
publishcheck -tags "$version"
