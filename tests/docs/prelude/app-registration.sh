# app-registration.md assumes an HSM with a token labelled MyHSM (here
# SoftHSM's, PIN 123456).
softhsm2-util --init-token --free --label MyHSM --so-pin 12345678 --pin 123456 >/dev/null
