// tapezoo: the built-in 5x8 bitmap font used by io/plot (see font.cpp for the glyphs).
#pragma once

namespace tz::font {

inline constexpr int glyph_width = 5;
inline constexpr int glyph_height = 8;  // 7 above the baseline, 1 for descenders
inline constexpr int advance = 6;       // pixels from one character to the next
inline constexpr int line_height = 10;

// True if pixel (col, row) of character c is ink. Characters outside ' '..'~' draw as '?'.
bool ink(char c, int col, int row);

}  // namespace tz::font
