// Small string helpers shared by every stage, so that none keeps its own copy.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ecert {

// ASCII lower case (names, directives, digests); other bytes unchanged.
std::string lower(std::string_view s);

// Case-insensitive ASCII equality.
bool iequals(std::string_view a, std::string_view b);

// The parts, `sep` between them.
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// 'text', for naming a value inside a message.
std::string squote(std::string_view s);

// `s` as one word of a POSIX shell command line: as it is when it holds only
// characters no shell treats specially, else in single quotes (a quote
// inside as '\''). For commands a message tells the operator to run.
std::string shell_word(std::string_view s);

}  // namespace ecert
