/**
 * Token-prefix arithmetic for shared-prompt scoring.
 */

/** The number of leading tokens `a` and `b` have in common. */
export function longestCommonPrefix(a: ArrayLike<number>, b: ArrayLike<number>): number {
    const n = Math.min(a.length, b.length);
    let i = 0;
    while (i < n && a[i] === b[i]) i++;
    return i;
}
