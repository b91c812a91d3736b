/* fuzz_keys.h: a throw-away RSA 2048 test key and its self-signed
 * certificate (CN=ExchangeAuth), and a second certificate of another key:
 * made with openssl for the fuzz targets, never used for anything else. */
#ifndef EK_FUZZ_KEYS_H
#define EK_FUZZ_KEYS_H

/* openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256
 *   -subj "/CN=ExchangeAuth/O=Contoso Ltd/C=US" (+ clientAuth, CA:FALSE) */
static const char fuzz_key_pem[] __attribute__((unused)) =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDOHyeNHyPrC3FJ\n"
    "Vw7acDpnOYMPWo6Fs56hnc8eFlmlzpjf4LJvDOGHX01XwmwnNOdVgLmGJF6lQBaz\n"
    "lcVxUi2Wu8KC3D1ECp01/81N/40JxJBV5Xx9Sc/1cNaSN5bZm0Wft5TbSc4PIhJs\n"
    "uHeIAdbV6oqIMSWU13Sa9U488dkaFaJZ5goRtOHCo/7Q6E3wcTJ2FEglKubBG4Uv\n"
    "r5HhmOIaW+COTYNzdCqk1wNGGq2lZe0zzOuZfwKuWkIpsEnQvdTVwSrrbdxcXg99\n"
    "uAGSkCl6jU8q7NCebpHCvWQa78s3tl2gUZWdL10bG2FQo46JGhoMYadRmGXka2qc\n"
    "IEAjVVZdAgMBAAECggEAOqwVlw8ZK0vLiIPWf4lYpo9xZgpx7U8OxZRlI3xbMl5X\n"
    "l8qfIAs7m0weeO+n15UwkF8e8DckFcfjbmUgmbw5q+FwYc2NRvP6gid5ak1m+TPR\n"
    "nhG/2O4M2yGuglp+fxy6udcI8U7V7+rT8cykgbt8StIDcvcCapbV41IWXjS9hrXE\n"
    "6dOY7SGH0/bBNpjrAOUbDbAo76vZXCstj6VRtfUaa6xdfefUQj3N4t9HoWBxiEZL\n"
    "mn5qdeAcATgV1aBYSt2ds81oSMfZcHsdqK7d8NhHNUuMbgNS7frylUVStWkzlxBW\n"
    "9yKcFOU8HZLHkLnZ3T4qyRBGGkHug/ZkwlbyZM3jZQKBgQDvN26nEdhYHna53Ucn\n"
    "Xc4bk4+4BW6wd0oL5FRaH8mKIDgMle7q5z4GhLDC77j8U3feVMQv9/HmKWUMSdSx\n"
    "ubmIryYkt1fRCgcP44FlfUwPuzf7FoaSQkgYYv8nps4DX+VQk5ZiKuUYIZdFFLXB\n"
    "xgY+Q5FZGOZYV7ZpNI4fKuHCywKBgQDclU5U0FG3vkwTIgLO29xbCQ/6jA19/XT1\n"
    "Pd5OsqmWPaVJh73YEeKRL4RJhdIOhA/Yb36SYEqLHwJswZGoC/UZNK8H7hH6r1wI\n"
    "Zslael+BIKjA5O91k5sm4gP53DiaC9PEiBeGgQYtKwsWIluFDwwCOBBqntkY+3Op\n"
    "OaF1/LAedwKBgAPFQug9PsS8zjBFzZ5QOzRyEfzbkRAVAUTIt4+oGpwjv95q6pYn\n"
    "SPH/W23nK2pGwoftnB4JcXWoR2B3NXQLsmH2KMrBXQ/9cXkNo/d+jxlcYRiDFWHu\n"
    "y4Ye4Vi1p1+kPlAT03X+qRfFR8Yd+nNwdJ68n+jgnJjd4REtc+QH4AEbAoGANmQa\n"
    "jI9Rlx01ZQJd7uQH0erKJd2i9g4paM94oa8sYf+RYjA2f7DpTSOKWxbEVQ/7WEMl\n"
    "0rIrr2JWFrskT2ujZDO5dRsfE9FpwCiYPdcu9Yg4FFhfM37SIyRYFqRW0KVZ8nwc\n"
    "UO4/t6OFeE/AgW7UZzer1J6WqbJXMsMjLRTB2MECgYEAo1QgkWLIIZVmNWme+B5Q\n"
    "XB0mCVya4+iNcFlt6itehRCd2PYwa8AepciX9AkhBO16Q0VzdO289WWzQKfSFlqE\n"
    "sZ46t7r0tQIqdCazTw2U+Bzot7Ulnx5gP0hGbrgvZ65C0nZ/7kfgvRRBCotKmTbT\n"
    "LZ822K3yhE6FWm4CGI757BQ=\n"
    "-----END PRIVATE KEY-----\n";

static const char fuzz_cert_pem[] __attribute__((unused)) =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDdzCCAl+gAwIBAgIUXt+VCDJNezGYv4Sae7AiIJ4gO+YwDQYJKoZIhvcNAQEL\n"
    "BQAwOjEVMBMGA1UEAwwMRXhjaGFuZ2VBdXRoMRQwEgYDVQQKDAtDb250b3NvIEx0\n"
    "ZDELMAkGA1UEBhMCVVMwHhcNMjYxMTI3MDQ0NzQyWhcNMzYxMTI0MDQ0NzQyWjA6\n"
    "MRUwEwYDVQQDDAxFeGNoYW5nZUF1dGgxFDASBgNVBAoMC0NvbnRvc28gTHRkMQsw\n"
    "CQYDVQQGEwJVUzCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAM4fJ40f\n"
    "I+sLcUlXDtpwOmc5gw9ajoWznqGdzx4WWaXOmN/gsm8M4YdfTVfCbCc051WAuYYk\n"
    "XqVAFrOVxXFSLZa7woLcPUQKnTX/zU3/jQnEkFXlfH1Jz/Vw1pI3ltmbRZ+3lNtJ\n"
    "zg8iEmy4d4gB1tXqiogxJZTXdJr1Tjzx2RoVolnmChG04cKj/tDoTfBxMnYUSCUq\n"
    "5sEbhS+vkeGY4hpb4I5Ng3N0KqTXA0YaraVl7TPM65l/Aq5aQimwSdC91NXBKutt\n"
    "3FxeD324AZKQKXqNTyrs0J5ukcK9ZBrvyze2XaBRlZ0vXRsbYVCjjokaGgxhp1GY\n"
    "ZeRrapwgQCNVVl0CAwEAAaN1MHMwHQYDVR0OBBYEFOzIa0AmmooEw9ujA9JOeLaZ\n"
    "0CvhMB8GA1UdIwQYMBaAFOzIa0AmmooEw9ujA9JOeLaZ0CvhMAwGA1UdEwEB/wQC\n"
    "MAAwDgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMCMA0GCSqGSIb3\n"
    "DQEBCwUAA4IBAQDMvezF12Qbvsjesot5Lnzo2tKx5sIpxic3lhMvXpf13dJ2GTfE\n"
    "peKE+Y45KweKttswrftD0j9fEQ5eRsCFf4juswRg+Iji1zfzby/DIc1Q29Y2HK/L\n"
    "vSrLaxqWYZLgSodyDvVRWihFiEsT2jDx68p6QzyuRXhqr/uaXPQ7V7USDmn6AC6F\n"
    "9AodcBW+WQCS4JBJn/sFmTNPBET01sfGrE6z5EHKoyY9fQxRGXhrroRTUfm+Umuq\n"
    "ZrORj8dulmJxGm1bF2h4QC7/ycejVPp/Z3iEblYIMHQgFrDlhteKWMJ/36XoAKJh\n"
    "m7OPmI6IKJfsq9WyRj+lOY4Ni7fN1/7X19tm\n"
    "-----END CERTIFICATE-----\n";

/* the same, RSASSA-PSS signed, of another key; UTF-8 subject */
static const char fuzz_other_cert_pem[] __attribute__((unused)) =
    "-----BEGIN CERTIFICATE-----\n"
    "MIID/TCCArGgAwIBAgIUY9Ium9s0OGDj7AE9Qbrm2bRw5iAwQQYJKoZIhvcNAQEK\n"
    "MDSgDzANBglghkgBZQMEAgEFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgEF\n"
    "AKIDAgEgMFoxGzAZBgNVBAMMElrDvHJpY2ggQXV0b21hdGlvbjENMAsGA1UECwwE\n"
    "UiwgRDEXMBUGCgmSJomT8ixkARkWB2NvbnRvc28xEzARBgoJkiaJk/IsZAEZFgNj\n"
    "b20wHhcNMjYxMTI3MDQ0NzQ1WhcNMjcxMTI3MDQ0NzQ1WjBaMRswGQYDVQQDDBJa\n"
    "w7xyaWNoIEF1dG9tYXRpb24xDTALBgNVBAsMBFIsIEQxFzAVBgoJkiaJk/IsZAEZ\n"
    "Fgdjb250b3NvMRMwEQYKCZImiZPyLGQBGRYDY29tMIIBIjANBgkqhkiG9w0BAQEF\n"
    "AAOCAQ8AMIIBCgKCAQEA4QmnlLElP5DbG7X1rLYcSF3NRJTvMK5O8btDEyS2M2kL\n"
    "oKUzBg0QV2E6tioFFtLx5yrLvW8aEWgJkIp7oaIiru1Ug+1zpyU44YHBMYuRl320\n"
    "3PVELXf77mfTwAvsSs1KJN3lmP/67fCeSJeezXwO8K1jirCDDevKCCLVvR5leP2f\n"
    "4qV1oSYa4PNb/avvFbj3npX3wQwRIhjht2+ln25GM4yIj/YZ8vGkEWZ4nBSjzBXi\n"
    "CGxBezJzc+HBFvUqvCwzzhFhKwIh0Ttd0CCB5vFqOG28vWhxE9BHka5r/dT3w8ia\n"
    "xG3GvxnWl9f6CYUWEJg7z+7Uap15YTESuTEJKcXekwIDAQABo1MwUTAdBgNVHQ4E\n"
    "FgQUFMRCyGooRzFSDsV5GreME5zTX1gwHwYDVR0jBBgwFoAUFMRCyGooRzFSDsV5\n"
    "GreME5zTX1gwDwYDVR0TAQH/BAUwAwEB/zBBBgkqhkiG9w0BAQowNKAPMA0GCWCG\n"
    "SAFlAwQCAQUAoRwwGgYJKoZIhvcNAQEIMA0GCWCGSAFlAwQCAQUAogMCASADggEB\n"
    "AIEhMmBWmxdVSFm4Dd43HS0Ul6xf3rjEtsGCzbQEfsE3fQ3yvk3tEGv6vw8ovX12\n"
    "57kbQ48jpTIxHnphvQHNMOu+91P2s9F00W73tel94l+832ENcVWpvr+8r52XLRTT\n"
    "YFQK5dtylOa0m4N1jgRFtDooQ1N1+tLdN/lkC8gfPS5K1PBygo3qAbKJu/B0iXp8\n"
    "Pmct8rrDs1FGIIXN3KkevI5h5GrWjDtW9FcofRiO5cssxNqrva98l/2ycLl9xKxr\n"
    "/evh3WtrRvHsrHhwZEPcp4vNWYAIR6Ls1Z9VC8oS9fG2ZQxv6MiKBTzNJ95wHj9D\n"
    "qAGCo5pX5ZoPcZoFSCclbFQ=\n"
    "-----END CERTIFICATE-----\n";

#endif /* EK_FUZZ_KEYS_H */
