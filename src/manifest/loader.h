// Loading a manifest: YAML text -> Manifest, with every problem collected.
#pragma once

#include <string>
#include <string_view>

#include "manifest/model.h"
#include "util/diag.h"

namespace ecert {

// Manifests larger than this are refused before parsing.
inline constexpr std::size_t kMaxManifestBytes = 1 << 20;

struct LoadResult {
  Manifest manifest;
  Diagnostics diagnostics;  // errors and warnings, in source order
  bool ok() const { return !has_errors(diagnostics); }
};

// Parses and validates `text` as the manifest at `path` (used in messages
// and to resolve relative paths; `path` need not exist). Pure: reads nothing
// but `text`, never throws. On errors, `manifest` is partially filled and
// must not be used.
LoadResult load_manifest_text(std::string_view text, const fs::path& path);

// Reads the file at `path` (bounded by kMaxManifestBytes) and loads it.
// `bytes`, when given, receives exactly what was read and parsed ("" when
// nothing could be read), so that a caller can hash the very bytes it used.
LoadResult load_manifest_file(const FileSystem& fs, const fs::path& path, std::string* bytes = nullptr);

}  // namespace ecert
