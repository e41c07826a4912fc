/* Test-only: Wine 8.0 (Debian 12's) has no bcryptprimitives.dll, whose ProcessPrng every Rust
 * program since 1.78 imports for its random numbers. This stand-in forwards to advapi32's
 * RtlGenRandom (SystemFunction036), which Wine has. Real Windows (10 and later) ships the DLL:
 * nothing built here is installed on a user's machine. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
