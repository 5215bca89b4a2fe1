from services.payments.main import main

main()
