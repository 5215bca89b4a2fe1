from services.accounts.main import main

main()
