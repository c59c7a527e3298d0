#!/usr/bin/env python3
"""csp.py -- the Content-Security-Policy of l2d's page, made from the page.

Usage: csp.py PAGE.html OUT

The page carries its one <style> and one <script> inline; the policy allows
exactly those two by their SHA-256 hashes (CSP Level 2), and nothing else:
no other script or style, no inline attribute, nothing from another origin.
It fails when the page has another style or script, an inline event handler
or a style attribute, which the policy would block in the browser. OUT gets
the policy on one line, without a newline.
"""
import base64
import hashlib
import re
import sys


def one_block(page, tag):
    blocks = re.findall(r"<%s>(.*?)</%s>" % (tag, tag), page, re.S)
    others = re.findall(r"<%s[\s>]" % tag, page)
    if len(blocks) != 1 or len(others) != 1:
        sys.exit("csp.py: the page must have exactly one plain <%s> block" % tag)
    digest = hashlib.sha256(blocks[0].encode("utf-8")).digest()
    return "'sha256-%s'" % base64.b64encode(digest).decode("ascii")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: csp.py PAGE.html OUT")
    with open(sys.argv[1], encoding="utf-8") as f:
        page = f.read()
    markup = re.sub(r"<(script|style)>.*?</\1>", "", page, flags=re.S)
    if re.search(r"<[^>]*\s(on[a-z]+|style)\s*=", markup, re.I):
        sys.exit("csp.py: an inline event handler or style attribute: the policy blocks it")
    policy = "; ".join([
        "default-src 'none'",
        "script-src " + one_block(page, "script"),
        "style-src " + one_block(page, "style"),
        "img-src data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ])
    with open(sys.argv[2], "w", encoding="ascii") as f:
        f.write(policy)


if __name__ == "__main__":
    main()
