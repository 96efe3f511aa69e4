// The one tokenizer of Apache httpd config text, shared by the reader
// (config.cc) and the editor (patch.cc). It keeps byte offsets into the
// original text so an edit can replace exactly the bytes it means to.
//
// Apache 2.4 rules mirrored here (server/util.c, ap_cfg_getline and
// ap_getword_conf):
//  - physical lines end in LF or CRLF; a UTF-8 BOM at the start is skipped;
//  - a backslash immediately before the newline (and not itself escaped by a
//    second backslash) joins the next physical line, dropping both;
//  - a logical line whose first non-blank character is '#' is a comment; a
//    '#' anywhere else is an ordinary argument character;
//  - arguments split on whitespace; an argument starting with " or ' runs to
//    the matching quote, inside which a backslash escapes that quote;
//  - "<Name args>" opens a section, "</Name>" closes it.
//
// The reader substitutes ${VAR} in a logical line's text before splitting it
// into words, as httpd does (ap_resolve_env on the whole line in
// server/config.c), so it splits the substituted text again with
// parse_logical_line; the editor works on the raw tokens.
#pragma once

#include "util/strings.h"  // iequals, lower

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ecert::apache {

struct Token {
  std::string value;       // unquoted, unescaped; ${VAR} not yet substituted
  std::size_t begin = 0;   // raw byte range in the text, quotes included
  std::size_t end = 0;
};

struct LogicalLine {
  enum class Kind { kBlank, kComment, kDirective, kSectionOpen, kSectionClose };
  Kind kind = Kind::kBlank;
  std::size_t begin = 0;     // offset of the first byte of the first physical line
  std::size_t end = 0;       // offset just past the content of the last physical line (before CR/LF)
  std::size_t next = 0;      // offset of the next line (past the terminator)
  int line = 0;              // 1-based number of the first physical line
  int last_line = 0;         // 1-based number of the last physical line
  std::string_view eol;      // terminator of the last physical line: "\n", "\r\n" or "" at EOF
  std::string indent;        // leading blanks of the first physical line, as written
  std::string name;          // as written; without '<' or '</' for sections
  std::size_t name_end = 0;  // raw offset just past the name (past '<Name' for sections)
  std::vector<Token> args;   // for sections: the words before the closing '>'
  std::string rest_after_first_arg;  // logical text after args[0] (for rewriting joined lines)
  std::string text;          // the logical line as Apache reads it: continuations joined, ${VAR} as written
  std::string error;         // syntax problem on this line, "" if none

  bool continued() const { return last_line != line; }
  bool is(std::string_view directive_name) const;  // case-insensitive name check
};

// Splits `text` into logical lines covering it entirely, in order.
std::vector<LogicalLine> tokenize(std::string_view text);

// Classifies one logical line given as text (a LogicalLine::text after
// ${VAR} substitution): kind, name, args and error as tokenize would give
// them; byte offsets are into `text`, line numbers are 1.
LogicalLine parse_logical_line(std::string_view text);

// The words of `text` as ap_getword_conf splits them: on blanks, quotes
// grouping, unquoted and unescaped.
std::vector<std::string> split_arguments(std::string_view text);

}  // namespace ecert::apache
