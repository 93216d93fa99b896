#!/usr/bin/env bash
# The module rules of DESIGN.md §1, checked by grep: stages/ includes neither
# io/ nor pipeline/; io/ includes only the stages/oci vocabulary; nothing but
# the CLI, tests and benches includes pipeline/.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
if grep -rn '#include "\(io\|pipeline\)/' stages/; then echo "stages/ must not include io/ or pipeline/" >&2; bad=1; fi
io_parsers='"stages/(oci/[a-z_]+|http_headers|auth_config|digester|image_json|registries_d)\.h"'
if grep -rn '#include "stages/' io/ | grep -vE "$io_parsers"; then
  echo "io/ may include only stages/oci/ and the endpoint parsers $io_parsers" >&2; bad=1
fi
if grep -rn '#include "pipeline/' io/; then echo "io/ must not include pipeline/" >&2; bad=1; fi
if grep -rnE '(std::cout|std::cerr|\bprintf\(|\bfopen\(|(^|[^A-Za-z0-9_:])::(open|read|write)\()' stages/ --include=*.cpp; then
  echo "stages/ must not do I/O or print" >&2; bad=1
fi
exit $bad
