import Testing
import OggEdgeCore

@Suite struct EventIdentifierTests {
    @Test(arguments: ["a", "e-1", "A.b_c:d-0", "2026-11-25T17:07:36.123Z", String(repeating: "x", count: 128)])
    func validIds(id: String) {
        #expect(EventIdentifier.isValid(id))
    }

    @Test(arguments: [
        "", String(repeating: "x", count: 129), "a b", "a/b", "a+b", "a%20b", "é", "e\u{301}", "a\u{0}", "a\n", "ａ", "a\"b",
        // One grapheme cluster, about 15 KB: length is counted in bytes, not characters.
        "e" + String(repeating: "\u{301}", count: 7_500),
    ])
    func invalidIds(id: String) {
        #expect(!EventIdentifier.isValid(id))
    }
}
