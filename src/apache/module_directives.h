// The directives Apache's modules register, for <IfDirective> and
// <IfSection>, which ask whether a directive exists among the modules loaded
// so far. ecertctl cannot load a module to ask it, so the answer is a table
// generated from `apache2 -L` by scripts/gen-apache-directives: every module
// Debian 12 ships (mods-available/*.load) and every module compiled into its
// apache2.
#pragma once

#include <span>
#include <string_view>

namespace ecert::apache {

struct ModuleDirectives {
  std::string_view identifier;  // as LoadModule names it: "ssl_module"
  std::string_view file;        // its source file, as <IfModule> and `apache2 -l` name it: "mod_ssl.c"
  std::string_view directives;  // space-separated, as registered: "SSLEngine SSLCertificateFile ..."; sections
                                // start with '<': "<VirtualHost"
};

// The apache2 version the table was generated from, e.g. "2.4.62".
extern const std::string_view kModuleTableVersion;

// Every known module, sorted by identifier.
std::span<const ModuleDirectives> known_modules();

}  // namespace ecert::apache
