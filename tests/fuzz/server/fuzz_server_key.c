/*
 * The fixed RSA-1024 ticket key of the server fuzz targets and their corpus
 * generator (see fuzz_server_harness.h).
 */
extern const char fuzz_ticket_key_pem[];

/* Generated once for these targets with `openssl genpkey -algorithm RSA
 * -pkeyopt rsa_keygen_bits:1024`; it protects nothing. */
const char fuzz_ticket_key_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIICdQIBADANBgkqhkiG9w0BAQEFAASCAl8wggJbAgEAAoGBAKcMVOjCc9pTCX76\n"
        "FbUDkl782LZnW6B5nw0Ec7jdMk1Fwf9nKAQ0+aFSP9XbOzJ41n4DP1mvb5PbyCPm\n"
        "8gwrmNkjmpxYT9mzqC8OVNh/jTvXRMUGXxwCcTHWz91UW3/jacWiAH/ayGWv5gki\n"
        "FIAdAR3G7oYAQ2SwTwe5qggeD2sLAgMBAAECgYBBFsz+5MW/jBtnHorWvU2LNXo7\n"
        "mIpbPQh8Sf/NSGMRON0eZ1NwUDP0Z9f3vDSUtgDdmOZWS8VuF3UkiBhIJbSoRcPt\n"
        "XJjTxr+zN0zhMDVwHtS+9yJ3hmvMPsv7CCB0wSL0Gjs8ElcyZiiLobcqIa37sGSv\n"
        "6W2CDh/IGgUFLMfaAQJBANPCzarOTD309lGBzVdcSWpfK31FHkvkLNJtmvzGFIWZ\n"
        "KOLXZgnPNSTL85canK3tngLAfXU70/ocEVk5zdU2WvUCQQDJ8j39pP9ZRjWeqwTF\n"
        "KEgydk21CXuy/Rz4l5L7jwjdQaR5ZIvivsGSh/DeW0sf6siayucJxa+NcFVlcI56\n"
        "Hu3/AkBKKWct8qHw8OFzGip39fIgNsRcUuCRY4/vAkPNUvHM+B7Bkv5BYTgTcvoU\n"
        "aVWF9DnqbM+DRzit1zacMQpNKYQhAkBK4/r5RWcsxEy+Os3aD8Y2cIkAyjOFfThx\n"
        "OETZ5YF0DBPisNbvj65ZmPBKhbCmdXtPbE+h4B3qZe5FYCh2QWIhAkBJ/4CQISmW\n"
        "0+azsHAfLvUb7/LH4j8+ySxyk3bvwBrqSIe9OKMnpaWc7uFzX/fOWlzQgcehswo0\n"
        "AYGx2TZhUDWm\n"
        "-----END PRIVATE KEY-----\n";
